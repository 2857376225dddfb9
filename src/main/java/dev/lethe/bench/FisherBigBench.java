package dev.lethe.bench;

import dev.lethe.fisher.BlockLayout;
import dev.lethe.core.DaemonThreads;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherInverse;
import dev.lethe.fisher.BuildOptions;
import dev.lethe.fisher.FisherStore;
import dev.lethe.storage.LetheDb;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.ExecutorService;
import java.util.stream.Stream;

/**
 * Builds and applies a Fisher inverse larger than the heap: by default 512 blocks of 1024
 * (P = 524 288, 2 GiB of float32 blocks) from n = 3000 synthetic gradients, meant to run with
 * -Xmx512m, through the server's pipeline ({@link dev.lethe.fisher.FisherBuild}). The Gram
 * accumulators (8 MiB per block) are kept under a 192 MiB budget, so the build takes several
 * passes: the samples are spilled to disk and replayed, their rows recomputed each pass, as a
 * BuildFisher stream's are; blocks stream to RocksDB as they are inverted and apply reads them
 * one per task. Prints times and the peak heap.
 *
 * <p>Arguments: [data dir (default: a temp dir, deleted)] [blocks] [n] [threads] [budget MiB].
 */
public final class FisherBigBench {
  private FisherBigBench() {}

  public static void main(String[] args) throws Exception {
    Path dir = args.length > 0 && !args[0].equals("-") ? Path.of(args[0]) : Files.createTempDirectory("lethe-bigbench");
    int blocks = BenchSupport.intArg(args, 1, 512);
    int n = BenchSupport.intArg(args, 2, 3000);
    int threads = BenchSupport.intArg(args, 3, 2);
    long budget = (args.length > 4 ? Long.parseLong(args[4]) : 192) << 20;
    int b = 1024;
    BlockLayout layout = BlockLayout.uniform(blocks * b, b);
    double lambda = 1e-3;
    BuildOptions options = BuildOptions.defaults(lambda).withThreads(threads).withMemoryBudget(budget);
    System.out.printf("FisherBigBench: P=%d, %d blocks of %d, n=%d, threads=%d, budget=%d MiB, max heap=%d MiB%n",
        layout.parameterCount(), blocks, b, n, threads, budget >> 20, Runtime.getRuntime().maxMemory() >> 20);
    SyntheticRows source = new SyntheticRows(42, layout.parameterCount());
    ExecutorService pool = DaemonThreads.pool("fisher", threads);
    try (LetheDb db = LetheDb.open(dir.resolve("db"), 8L << 20)) {
      FisherStore store = new FisherStore(db);
      long t0 = System.nanoTime();
      FisherProgress.Summary summary = source.build(store, "big", layout, n, options, pool, dir, p -> {
        if (p.blocksDone() % 64 == 0 && p.blocksDone() > 0) {
          System.out.printf("  %d/%d blocks, %.0f s%n", p.blocksDone(), p.blocksTotal(), (System.nanoTime() - t0) / 1e9);
        }
      });
      System.out.printf("build: %.1f s, %d passes, stored F^-1 = %.3f GB (%.2f GiB)%n",
          summary.buildSeconds(), summary.passes(), summary.bytes() / 1e9, summary.bytes() / (double) (1L << 30));
      System.out.printf("peak heap during build: %d MiB%n", BenchSupport.peakHeapBytes() >> 20);
      BenchSupport.resetPeaks();
      float[] row = new float[layout.parameterCount()];
      source.fill(0, 1, row);
      double[] v = new double[row.length];
      for (int i = 0; i < v.length; i++) {
        v[i] = row[i];
      }
      double[] out = new double[v.length];
      try (FisherInverse inv = store.open("big", summary.fisherId(), pool, threads, true)) {
        for (int rep = 0; rep < 3; rep++) {
          long s = System.nanoTime();
          inv.apply(v, out);
          double sec = (System.nanoTime() - s) / 1e9;
          System.out.printf("apply %d: %.2f s, %.2f GB/s of F^-1 read (CRC32C verified)%n", rep + 1, sec, summary.bytes() / sec / 1e9);
        }
      }
      double dot = 0;
      for (int i = 0; i < v.length; i++) {
        dot += (double) v[i] * out[i];
      }
      System.out.printf("check: v'F^-1 v = %.6g (must be > 0 and <= |v|^2/lambda = %.6g)%n", dot, norm2(v) / lambda);
      System.out.printf("peak heap during apply: %d MiB%n", BenchSupport.peakHeapBytes() >> 20);
    } finally {
      pool.shutdownNow();
      if (args.length == 0 || args[0].equals("-")) {
        try (Stream<Path> files = Files.walk(dir)) {
          files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    }
  }

  private static double norm2(double[] v) {
    double s = 0;
    for (double x : v) {
      s += (double) x * x;
    }
    return s;
  }
}
