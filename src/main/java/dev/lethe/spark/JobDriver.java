package dev.lethe.spark;

import dev.lethe.client.LetheClient;
import dev.lethe.fisher.BlockGrams;
import dev.lethe.fisher.BlockLayout;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherSums;
import dev.lethe.store.ModelState;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.Consumer;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * The driver's side of a {@link FisherJob}: resolves the model version and block layout with the
 * sidecar, runs one Spark stage per group of blocks whose Grams fit a task ({@link
 * PartitionSums} on every partition, combined by block with reduceByKey: partial sums are
 * computed once per partition and added once, so a retried task is not counted twice), then
 * streams the combined sums to the sidecar by PutFisherSums, one block at a time
 * (toLocalIterator: the driver holds one partition of combined blocks, never a row). A job that
 * fails before the stream completes leaves nothing attached: the sidecar removes an unfinished
 * Fisher. Not thread-safe; one run at a time per instance.
 */
final class JobDriver {
  private JobDriver() {}

  /**
   * Wraps the batch maker the tasks use: the tests' seam for failing a task attempt (to show
   * that a retried task is counted once). {@link #NONE} in the job.
   */
  interface TaskHook extends java.io.Serializable {
    <T> BatchMaker<T> wrap(BatchMaker<T> maker);
  }

  static final TaskHook NONE = new TaskHook() {
    @Override
    public <T> BatchMaker<T> wrap(BatchMaker<T> maker) {
      return maker;
    }
  };

  /** Runs the job in {@code spark}; returns the sidecar's last progress message. */
  static FisherProgress run(SparkSession spark, JobOptions o, Consumer<FisherProgress> progress)
      throws IOException, InterruptedException {
    return run(spark, o, progress, NONE);
  }

  /** As {@link #run(SparkSession, JobOptions, Consumer)} with the tasks' makers wrapped. */
  static FisherProgress run(SparkSession spark, JobOptions o, Consumer<FisherProgress> progress,
      TaskHook hook) throws IOException, InterruptedException {
    String structure = (o.structure() == null ? "block_diagonal" : o.structure())
        .toLowerCase(java.util.Locale.ROOT);
    if (!List.of("block_diagonal", "kfac", "ekfac", "auto").contains(structure)) {
      throw new IllegalArgumentException("--structure: must be block_diagonal, kfac, ekfac or"
          + " auto, got '" + o.structure() + "'");
    }
    CurvatureKind kind = o.kind();
    try (LetheClient client = o.sidecar().connect()) {
      ModelState state = client.describe(o.model());
      long version = o.version() > 0 ? o.version() : state.activeVersion();
      ExecutorModel model = ExecutorModel.of(o.sidecar(), o.model(), version);
      int blockSize = o.blockSize() > 0 ? o.blockSize() : state.spec().resolved().blockSize();
      BlockLayout layout = BlockLayout.forParameters(model.parameterShapes(), blockSize);
      int draws = kind == CurvatureKind.MONTE_CARLO ? Math.max(1, o.draws()) : 0;
      int perSample = BlockGrams.rows(model, kind, draws, o.seed()).rowsPerSample();
      JobData<?> data = JobData.open(spark, o, model);
      if (kind == CurvatureKind.EMPIRICAL && !data.labelled()) {
        throw new IllegalArgumentException("--label-column: the data has no column '"
            + o.labelColumn() + "'; an EMPIRICAL Fisher needs the true labels");
      }
      if (structure.equals("auto")) {
        structure = StructureChoice.resolve(model, layout, o.storageBudgetBytes(), blockSize);
      }
      if (!structure.equals("block_diagonal")) {
        return KroneckerDriver.run(data, o, model, version, blockSize, kind, draws,
            structure.equals("ekfac"), client, progress, hook);
      }
      List<int[]> groups = groups(layout, o.groupBytes());
      List<JavaPairRDD<Integer, double[]>> sums = sum(data, o, version, layout, groups, kind,
          draws, hook);
      try {
        long t0 = System.nanoTime();
        double[] stats = sums.get(0).lookup(PartitionSums.STATS).get(0);
        for (JavaPairRDD<Integer, double[]> g : sums) {
          double[] s = g.lookup(PartitionSums.STATS).get(0);
          if (s[0] != stats[0] || s[1] != stats[1]) {
            throw new IllegalStateException("the stages summed different data (" + s[0] + " and "
                + stats[0] + " samples): the input changed while the job ran");
          }
        }
        boolean moments = data.labelled();
        double[] gradient = moments ? sums.get(0).lookup(PartitionSums.GRADIENT).get(0) : null;
        long n = (long) stats[0];
        FisherSums.Header header = new FisherSums.Header(o.model(), version, kind,
            "block_diagonal", n, blockSize, layout.blockCount(), layout.parameterCount(), draws,
            o.seed(), (long) stats[1], moments, moments ? stats[2] : 0);
        if (header.rows() != n * perSample) {
          throw new IllegalStateException(header.rows() + " rows were summed for " + n
              + " samples of " + perSample + " rows");
        }
        long t1 = System.nanoTime();
        long[] fetching = {0};
        FisherProgress done = client.putFisherSums(header, blocks(sums, fetching), gradient,
            progress);
        System.err.printf(java.util.Locale.ROOT, "FisherJob: %d samples summed in %d stage(s)"
            + " in %.2f s; sums sent and the Fisher finished by the sidecar in %.2f s (%.2f s of"
            + " it fetching the combined sums to the driver)%n", n, groups.size(),
            (t1 - t0) / 1e9, (System.nanoTime() - t1) / 1e9, fetching[0] / 1e9);
        return done;
      } finally {
        sums.forEach(JavaPairRDD::unpersist);
        if (groups.size() > 1) {
          data.rdd().unpersist(false);
        }
      }
    }
  }

  /** Consecutive blocks whose Grams fit {@code bytes} (at least one block per group). */
  static List<int[]> groups(BlockLayout layout, long bytes) {
    List<int[]> out = new ArrayList<>();
    int from = 0;
    for (int b = 1; b <= layout.blockCount(); b++) {
      if (b == layout.blockCount() || BlockGrams.bytes(layout, from, b + 1) > bytes) {
        out.add(new int[] {from, b});
        from = b;
      }
    }
    return out;
  }

  private static <T> List<JavaPairRDD<Integer, double[]>> sum(JobData<T> data, JobOptions o,
      long version, BlockLayout layout, List<int[]> groups, CurvatureKind kind, int draws,
      TaskHook hook) {
    JavaRDD<T> rdd = data.rdd();
    if (groups.size() > 1) {
      rdd = rdd.persist(StorageLevel.MEMORY_AND_DISK());
    }
    long[] offsets = kind == CurvatureKind.MONTE_CARLO ? offsets(rdd) : null;
    int reducers = Math.max(1, Math.min(layout.blockCount(), rdd.getNumPartitions()));
    List<JavaPairRDD<Integer, double[]>> out = new ArrayList<>();
    for (int g = 0; g < groups.size(); g++) {
      PartitionSums<T> task = new PartitionSums<>(o.sidecar(), o.model(), version, layout.encode(),
          groups.get(g)[0], groups.get(g)[1], kind, draws, o.seed(), g == 0, o.batchSamples(),
          hook.wrap(data.maker()));
      JavaPairRDD<Integer, double[]> sums = rdd.mapPartitionsWithIndex(
              (index, elements) -> task.sum(elements, offsets == null ? 0 : offsets[index]), true)
          .mapToPair(t -> t)
          .reduceByKey(BlockGrams::add, reducers)
          .persist(StorageLevel.MEMORY_AND_DISK());
      out.add(sums);
    }
    return out;
  }

  /** Each partition's first stream position (the sizes of the partitions before it). */
  static <T> long[] offsets(JavaRDD<T> rdd) {
    List<Tuple2<Integer, Long>> counts = rdd.mapPartitionsWithIndex((index, elements) -> {
      long c = 0;
      while (elements.hasNext()) {
        elements.next();
        c++;
      }
      return List.of(new Tuple2<>(index, c)).iterator();
    }, true).collect();
    long[] sizes = new long[rdd.getNumPartitions()];
    counts.forEach(t -> sizes[t._1()] = t._2());
    long[] offsets = new long[sizes.length];
    for (int i = 1; i < sizes.length; i++) {
      offsets[i] = offsets[i - 1] + sizes[i - 1];
    }
    return offsets;
  }

  /**
   * The combined blocks of every group, one partition of blocks at a time; adds the time spent
   * fetching them to {@code nanos[0]}.
   */
  static Iterator<FisherSums.Block> blocks(List<JavaPairRDD<Integer, double[]>> sums,
      long[] nanos) {
    return new Iterator<>() {
      private int group = -1;
      private Iterator<Tuple2<Integer, double[]>> current = java.util.Collections.emptyIterator();
      private Tuple2<Integer, double[]> next;

      @Override
      public boolean hasNext() {
        long t = System.nanoTime();
        try {
          return fetch();
        } finally {
          nanos[0] += System.nanoTime() - t;
        }
      }

      private boolean fetch() {
        while (next == null) {
          while (!current.hasNext()) {
            if (++group >= sums.size()) {
              return false;
            }
            current = sums.get(group).toLocalIterator();
          }
          Tuple2<Integer, double[]> t = current.next();
          if (t._1() >= 0) {
            next = t;
          }
        }
        return true;
      }

      @Override
      public FisherSums.Block next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        FisherSums.Block b = new FisherSums.Block(next._1(), next._2());
        next = null;
        return b;
      }
    };
  }
}
