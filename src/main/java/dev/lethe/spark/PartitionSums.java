package dev.lethe.spark;

import dev.lethe.core.Samples;
import dev.lethe.fisher.BlockGrams;
import dev.lethe.fisher.BlockLayout;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.ModelView;
import dev.lethe.fisher.RowSource;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import scala.Tuple2;

/**
 * What one partition adds to a Fisher: its samples are pulled a batch at a time, turned into
 * rows of the kind by the build's own code ({@link BlockGrams#rows}) and added to the Grams of
 * one group of blocks ({@link BlockGrams}, in double); no more than one batch of samples and its
 * rows is held at once, never the partition's rows. Emits one (block, packed upper Gram) pair
 * per block of the group, plus (key {@link #STATS}: samples, rows, Σ|∇l_i|²) and, when the group
 * measures the gradient moments, (key {@link #GRADIENT}: Σ∇l_i). Spark combines them by key once
 * per partition, so a retried task is counted once.
 *
 * @param sidecar where executors fetch the model
 * @param model the model's name
 * @param version the version (resolved by the driver, not 0)
 * @param layout the block split (the sidecar's, for the spec's or the job's block size), as
 *     {@link BlockLayout#encode} writes it (serialisable)
 * @param fromBlock the group's first block
 * @param toBlock one past its last
 * @param kind the rows' kind
 * @param draws MONTE_CARLO draws per sample
 * @param seed MONTE_CARLO seed
 * @param moments whether this group also sums the per-sample gradients (the first group)
 * @param batchSamples samples per batch
 */
public record PartitionSums<T>(Sidecar sidecar, String model, long version, byte[] layout,
    int fromBlock, int toBlock, CurvatureKind kind, int draws, long seed, boolean moments,
    int batchSamples, BatchMaker<T> maker) implements Serializable {
  /** Key of the (samples, rows, Σ|∇l_i|²) triple. */
  public static final int STATS = -1;
  /** Key of Σ∇l_i. */
  public static final int GRADIENT = -2;

  /**
   * Sums the partition whose first element is at stream position {@code position} (the sum of
   * the earlier partitions' sizes; what MONTE_CARLO draws are seeded by).
   */
  public Iterator<Tuple2<Integer, double[]>> sum(Iterator<T> elements, long position) {
    ModelView view = ExecutorModel.of(sidecar, model, version);
    return sum(view, elements, position);
  }

  /** As {@link #sum(Iterator, long)} over a given model view (tests pass their own). */
  Iterator<Tuple2<Integer, double[]>> sum(ModelView view, Iterator<T> elements, long position) {
    BlockLayout layout = BlockLayout.decode(java.nio.ByteBuffer.wrap(this.layout));
    RowSource rows = BlockGrams.rows(view, kind, draws, seed);
    BlockGrams grams = new BlockGrams(layout, fromBlock, toBlock);
    int p = layout.parameterCount();
    double[] gradient = moments ? new double[p] : null;
    double squares = 0;
    long samples = 0;
    List<T> pending = new ArrayList<>(batchSamples);
    while (elements.hasNext()) {
      pending.add(elements.next());
      if (pending.size() == batchSamples || !elements.hasNext()) {
        Samples batch = rows.check(maker.batch(pending));
        int n = batch.size();
        float[] r = rows.rows(batch, position + samples);
        grams.accept(r, n * rows.rowsPerSample());
        if (moments && batch.labels() != null) {
          float[] g = rows.rowsAreGradients() ? r : rows.gradients(batch);
          for (int i = 0; i < n; i++) {
            double sq = 0;
            for (int j = 0, o = i * p; j < p; j++, o++) {
              gradient[j] += g[o];
              sq += (double) g[o] * g[o];
            }
            squares += sq;
          }
        }
        samples += n;
        pending.clear();
      }
    }
    List<Tuple2<Integer, double[]>> out = new ArrayList<>();
    if (samples > 0) {
      for (int b = fromBlock; b < toBlock; b++) {
        out.add(new Tuple2<>(b, grams.packedUpper(b)));
      }
    }
    out.add(new Tuple2<>(STATS, new double[] {samples, grams.rows(), squares}));
    if (moments) {
      out.add(new Tuple2<>(GRADIENT, gradient));
    }
    return out.iterator();
  }
}
