package dev.lethe.spark;

import dev.lethe.client.LetheClient;
import dev.lethe.fisher.BlockGrams;
import dev.lethe.fisher.BlockLayout;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherSums;
import dev.lethe.fisher.KroneckerFactors;
import dev.lethe.fisher.KroneckerLayer;
import dev.lethe.fisher.KroneckerSums;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;

/**
 * The driver's side of a KFAC/EKFAC {@link FisherJob}. Pass 1 ({@link KroneckerPartitionSums}
 * on every partition, reduceByKey by layer factor and by block) sums each dense layer's A and G
 * factor sums and the other parameters' block Grams. For EKFAC the driver then eigendecomposes
 * the normalised factors with the sidecar build's own routine ({@link
 * KroneckerFactors#eigenbasis}), broadcasts the bases, and pass 2 sums the squared projected
 * per-sample gradients in them. PutFisherSums then carries the blocks, the factor sums and, for
 * EKFAC, the bases and second-moment sums; the sidecar checks the bases and stores the Fisher as
 * its own build does. The driver holds the layers' factors (what the sidecar's build holds) and
 * one partition of combined blocks at a time, never a row. Not thread-safe.
 */
final class KroneckerDriver {
  private KroneckerDriver() {}

  static <T> FisherProgress run(JobData<T> data, JobOptions o, ExecutorModel model, long version,
      int blockSize, CurvatureKind kind, int draws, boolean ekfac, LetheClient client,
      Consumer<FisherProgress> progress, JobDriver.TaskHook hook) {
    List<KroneckerLayer> layers = model.kroneckerLayers();
    if (layers.isEmpty()) {
      throw new IllegalArgumentException("--structure " + (ekfac ? "ekfac" : "kfac") + ": model "
          + o.model() + " has no dense layers to factor (Gemm/MatMul weights); use block_diagonal");
    }
    List<long[]> shapes = model.parameterShapes();
    List<long[]> otherShapes = new ArrayList<>();
    for (int i : model.otherParameters()) {
      otherShapes.add(shapes.get(i));
    }
    BlockLayout others = BlockLayout.forParameters(otherShapes, blockSize);
    JavaRDD<T> rdd = data.rdd();
    if (ekfac) {
      rdd = rdd.persist(StorageLevel.MEMORY_AND_DISK());
    }
    long[] offsets = kind == CurvatureKind.MONTE_CARLO ? JobDriver.offsets(rdd) : null;
    int reducers = Math.max(1, Math.min(others.blockCount() + 2 * layers.size(),
        rdd.getNumPartitions()));
    long t0 = System.nanoTime();
    KroneckerPartitionSums<T> first = new KroneckerPartitionSums<>(o.sidecar(), o.model(), version,
        others.encode(), kind, draws, o.seed(), o.batchSamples(), hook.wrap(data.maker()), null);
    JavaPairRDD<Integer, double[]> pass1 = sums(rdd, first, offsets, reducers);
    JavaPairRDD<Integer, double[]> pass2 = null;
    try {
      double[] stats = pass1.lookup(KroneckerPartitionSums.STATS).get(0);
      long n = (long) stats[0];
      double rows = stats[1];
      Map<Integer, double[]> factors = pass1.filter(t -> t._1() <= -16).collectAsMap();
      List<FisherSums.LayerPart> parts = new ArrayList<>();
      double[][][] bases = new double[layers.size()][][];
      for (int l = 0; l < layers.size(); l++) {
        double[] a = factors.get(KroneckerPartitionSums.inputFactorKey(l));
        double[] g = factors.get(KroneckerPartitionSums.outputFactorKey(l));
        if (a == null || g == null) {
          throw new IllegalStateException("no samples were summed for layer " + l);
        }
        parts.add(new FisherSums.LayerPart(l, KroneckerSums.Part.INPUT_FACTOR_SUM, a));
        parts.add(new FisherSums.LayerPart(l, KroneckerSums.Part.OUTPUT_FACTOR_SUM, g));
        if (ekfac) {
          int c = layers.get(l).columns();
          int out = layers.get(l).out();
          bases[l] = KroneckerFactors.eigenbasis(KroneckerPartitionSums.unpackUpper(a, c), c,
              KroneckerPartitionSums.unpackUpper(g, out), out, n, rows);
          parts.add(new FisherSums.LayerPart(l, KroneckerSums.Part.INPUT_BASIS, bases[l][0]));
          parts.add(new FisherSums.LayerPart(l, KroneckerSums.Part.OUTPUT_BASIS, bases[l][1]));
        }
      }
      if (ekfac) {
        Broadcast<double[][][]> shared = JavaSparkContext.fromSparkContext(rdd.context())
            .broadcast(bases);
        KroneckerPartitionSums<T> second = new KroneckerPartitionSums<>(o.sidecar(), o.model(),
            version, others.encode(), kind, draws, o.seed(), o.batchSamples(),
            hook.wrap(data.maker()), shared);
        pass2 = sums(rdd, second, offsets, reducers);
        double[] again = pass2.lookup(KroneckerPartitionSums.STATS).get(0);
        if (again[0] != stats[0]) {
          throw new IllegalStateException("the passes summed different data (" + again[0]
              + " and " + stats[0] + " samples): the input changed while the job ran");
        }
        Map<Integer, double[]> moments = pass2.filter(t -> t._1() <= -16).collectAsMap();
        List<FisherSums.LayerPart> withMoments = new ArrayList<>();
        for (FisherSums.LayerPart p : parts) {
          withMoments.add(p);
          if (p.part() == KroneckerSums.Part.OUTPUT_BASIS) {
            withMoments.add(new FisherSums.LayerPart(p.layer(),
                KroneckerSums.Part.SECOND_MOMENT_SUM,
                moments.get(KroneckerPartitionSums.momentKey(p.layer()))));
          }
        }
        parts = withMoments;
      }
      FisherSums.Header header = new FisherSums.Header(o.model(), version, kind,
          ekfac ? "ekfac" : "kfac", n, blockSize, others.blockCount(), model.parameterCount(),
          draws, o.seed(), (long) rows, false, 0, layers.size());
      long t1 = System.nanoTime();
      long[] fetching = {0};
      FisherProgress done = client.putFisherSums(header,
          JobDriver.blocks(List.of(pass1), fetching), null, parts.iterator(), progress);
      System.err.printf(java.util.Locale.ROOT, "FisherJob: %s, %d samples, %d layers and %d"
          + " blocks summed in %d pass(es) in %.2f s; sums sent and the Fisher finished by the"
          + " sidecar in %.2f s%n", ekfac ? "EKFAC" : "KFAC", n, layers.size(),
          others.blockCount(), ekfac ? 2 : 1, (t1 - t0) / 1e9, (System.nanoTime() - t1) / 1e9);
      return done;
    } finally {
      pass1.unpersist();
      if (pass2 != null) {
        pass2.unpersist();
      }
      if (ekfac) {
        rdd.unpersist(false);
      }
    }
  }

  private static <T> JavaPairRDD<Integer, double[]> sums(JavaRDD<T> rdd,
      KroneckerPartitionSums<T> task, long[] offsets, int reducers) {
    return rdd.mapPartitionsWithIndex(
            (index, elements) -> task.sum(elements, offsets == null ? 0 : offsets[index]), true)
        .mapToPair(t -> t)
        .reduceByKey(BlockGrams::add, reducers)
        .persist(StorageLevel.MEMORY_AND_DISK());
  }
}
