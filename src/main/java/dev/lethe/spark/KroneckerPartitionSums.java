package dev.lethe.spark;

import dev.lethe.core.Samples;
import dev.lethe.fisher.BlockGrams;
import dev.lethe.fisher.BlockLayout;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.KroneckerFactors;
import dev.lethe.fisher.KroneckerLayer;
import dev.lethe.fisher.LayerInputs;
import dev.lethe.fisher.ModelView;
import dev.lethe.fisher.RowSource;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.broadcast.Broadcast;
import scala.Tuple2;

/**
 * What one partition adds to a KFAC/EKFAC Fisher, by the sidecar build's own code ({@link
 * KroneckerFactors}): its samples are pulled a batch at a time (never more than one batch and its
 * layer inputs held), and
 * <ul>
 *   <li>pass 1 ({@code bases} null): each dense layer's factor sums Σ ā āᵀ and (1/T) Σ δ δᵀ
 *       (emitted as packed upper triangles under {@link #inputFactorKey}/{@link
 *       #outputFactorKey}), the other parameters' block Grams (key = block) and (key {@link
 *       #STATS}: samples, rows);</li>
 *   <li>pass 2 (EKFAC, {@code bases} the driver's eigenbases {Q_A, Q_G} per layer, broadcast):
 *       each layer's sums of squared projected gradients, out × c, under {@link #momentKey}.</li>
 * </ul>
 * Spark combines them by key once per partition, so a retried task is counted once.
 *
 * @param layout the other parameters' block split, as {@link BlockLayout#encode} writes it
 * @param bases pass 2: per layer {Q_A, Q_G}; null for pass 1
 */
public record KroneckerPartitionSums<T>(Sidecar sidecar, String model, long version,
    byte[] layout, CurvatureKind kind, int draws, long seed, int batchSamples,
    BatchMaker<T> maker, Broadcast<double[][][]> bases) implements Serializable {
  /** Key of the (samples, rows) pair. */
  public static final int STATS = -1;

  /** Key of layer l's Σ ā āᵀ. */
  public static int inputFactorKey(int l) {
    return -16 - 2 * l;
  }

  /** Key of layer l's (1/T) Σ δ δᵀ. */
  public static int outputFactorKey(int l) {
    return -17 - 2 * l;
  }

  /** Key of layer l's second-moment sums (pass 2). */
  public static int momentKey(int l) {
    return -16 - l;
  }

  /** Sums the partition whose first element is at stream position {@code position}. */
  public Iterator<Tuple2<Integer, double[]>> sum(Iterator<T> elements, long position) {
    return sum(ExecutorModel.of(sidecar, model, version), elements, position);
  }

  Iterator<Tuple2<Integer, double[]>> sum(ModelView view, Iterator<T> elements, long position) {
    BlockLayout others = BlockLayout.decode(java.nio.ByteBuffer.wrap(this.layout));
    RowSource rows = BlockGrams.rows(view, kind, draws, seed);
    int r = rows.rowsPerSample();
    List<KroneckerLayer> layers = KroneckerFactors.layers(view);
    double[][][] q = bases == null ? null : bases.value();
    int count = layers.size();
    double[][] a = new double[count][];
    double[][] g = new double[count][];
    double[][] e = new double[count][];
    for (int l = 0; l < count; l++) {
      int c = layers.get(l).columns();
      int o = layers.get(l).out();
      if (q == null) {
        a[l] = new double[c * c];
        g[l] = new double[o * o];
      } else {
        e[l] = new double[o * c];
      }
    }
    BlockGrams grams = q == null && others.blockCount() > 0
        ? new BlockGrams(others, 0, others.blockCount()) : null;
    long samples = 0;
    List<T> pending = new ArrayList<>(batchSamples);
    while (elements.hasNext()) {
      pending.add(elements.next());
      if (pending.size() == batchSamples || !elements.hasNext()) {
        Samples batch = rows.check(maker.batch(pending));
        int n = batch.size();
        LayerInputs in = KroneckerFactors.inputs(rows, view, batch, position + samples);
        for (int l = 0; l < count; l++) {
          if (q == null) {
            KroneckerFactors.addFactors(layers.get(l), in.inputs()[l], in.cotangents()[l], n, r,
                a[l], g[l]);
          } else {
            KroneckerFactors.addProjectedSquares(layers.get(l), q[l][0], q[l][1],
                in.inputs()[l], in.cotangents()[l], n, r, e[l]);
          }
        }
        if (grams != null) {
          grams.accept(in.others(), n * r);
        }
        samples += n;
        pending.clear();
      }
    }
    List<Tuple2<Integer, double[]>> out = new ArrayList<>();
    if (samples > 0) {
      for (int l = 0; l < count; l++) {
        if (q == null) {
          out.add(new Tuple2<>(inputFactorKey(l), packUpper(a[l], layers.get(l).columns())));
          out.add(new Tuple2<>(outputFactorKey(l), packUpper(g[l], layers.get(l).out())));
        } else {
          out.add(new Tuple2<>(momentKey(l), e[l]));
        }
      }
      if (grams != null) {
        for (int b = 0; b < others.blockCount(); b++) {
          out.add(new Tuple2<>(b, grams.packedUpper(b)));
        }
      }
    }
    out.add(new Tuple2<>(STATS, new double[] {samples, (double) samples * r}));
    return out.iterator();
  }

  /** The upper triangle of the row-major b × b matrix m, row by row (b(b+1)/2 doubles). */
  static double[] packUpper(double[] m, int b) {
    double[] out = new double[b * (b + 1) / 2];
    for (int i = 0, o = 0; i < b; o += b - i, i++) {
      System.arraycopy(m, i * b + i, out, o, b - i);
    }
    return out;
  }

  /** The b × b matrix whose upper triangle {@code packed} holds (lower left 0). */
  static double[] unpackUpper(double[] packed, int b) {
    double[] m = new double[b * b];
    for (int i = 0, o = 0; i < b; o += b - i, i++) {
      System.arraycopy(packed, o, m, i * b + i, b - i);
    }
    return m;
  }
}
