package dev.lethe.bench;

import dev.lethe.fisher.BlockLayout;
import dev.lethe.fisher.FisherBuilder;
import dev.lethe.fisher.FisherHeader;
import dev.lethe.fisher.FisherInverse;
import dev.lethe.fisher.BuildOptions;
import dev.lethe.fisher.FisherStore;
import dev.lethe.storage.LetheDb;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Builds and applies a Fisher inverse larger than the heap: by default 512 blocks of 1024
 * (P = 524 288, 2 GiB of float32 blocks) from n = 3000 synthetic gradients, meant to run with
 * -Xmx512m. The Gram accumulators (8 MiB per block) are kept under a 192 MiB budget, so the
 * build takes several passes over the (recomputed) gradients; blocks stream to RocksDB as they
 * are inverted and apply reads them one per worker. Prints times and the peak heap.
 *
 * <p>Arguments: [data dir (default: a temp dir, deleted)] [blocks] [n] [threads] [budget MiB].
 */
public final class FisherBigBench {
  private FisherBigBench() {}

  public static void main(String[] args) throws Exception {
    Path dir = args.length > 0 && !args[0].equals("-") ? Path.of(args[0]) : Files.createTempDirectory("lethe-bigbench");
    int blocks = args.length > 1 ? Integer.parseInt(args[1]) : 512;
    int n = args.length > 2 ? Integer.parseInt(args[2]) : 3000;
    int threads = args.length > 3 ? Integer.parseInt(args[3]) : 2;
    long budget = (args.length > 4 ? Long.parseLong(args[4]) : 192) << 20;
    int b = 1024;
    BlockLayout layout = BlockLayout.uniform(blocks * b, b);
    double lambda = 1e-3;
    BuildOptions options = BuildOptions.defaults(lambda).withThreads(threads).withMemoryBudget(budget);
    System.out.printf("FisherBigBench: P=%d, %d blocks of %d, n=%d, threads=%d, budget=%d MiB, max heap=%d MiB%n",
        layout.parameterCount(), blocks, b, n, threads, budget >> 20, Runtime.getRuntime().maxMemory() >> 20);
    SyntheticGradients source = new SyntheticGradients(42, n, layout.parameterCount());
    try (LetheDb db = LetheDb.open(dir.resolve("db"), 8L << 20)) {
      FisherStore store = new FisherStore(db);
      FisherHeader template = new FisherHeader(layout, lambda, n, 1, "EMPIRICAL", "gram", 1, null);
      FisherBuilder.Summary summary;
      FisherHeader header;
      long t0 = System.nanoTime();
      try (FisherStore.Writer writer = store.create("big", "f", template)) {
        summary = FisherBuilder.build(layout, source, options, writer, (pass, rows, done, total) -> {
          if (rows == n && done % 64 == 0 && done > 0) {
            System.out.printf("  pass %d: %d/%d blocks, %.0f s%n", pass + 1, done, total, (System.nanoTime() - t0) / 1e9);
          }
        });
        header = writer.commit();
      }
      System.out.printf("build: %.1f s, %d passes, stored F^-1 = %.3f GB (%.2f GiB)%n",
          summary.seconds(), summary.passes(), header.totalStoredBytes() / 1e9, header.totalStoredBytes() / (double) (1L << 30));
      System.out.printf("peak heap during build: %d MiB%n", BenchSupport.peakHeapBytes() >> 20);
      BenchSupport.resetPeaks();
      float[] v = new float[layout.parameterCount()];
      source.fill(0, 1, v);
      float[] out = new float[v.length];
      try (FisherInverse inv = store.open("big", "f", threads, true)) {
        for (int rep = 0; rep < 3; rep++) {
          long s = System.nanoTime();
          inv.apply(v, out);
          double sec = (System.nanoTime() - s) / 1e9;
          System.out.printf("apply %d: %.2f s, %.2f GB/s of F^-1 read (CRC32C verified)%n", rep + 1, sec, header.totalStoredBytes() / sec / 1e9);
        }
      }
      double dot = 0;
      for (int i = 0; i < v.length; i++) {
        dot += (double) v[i] * out[i];
      }
      System.out.printf("check: v'F^-1 v = %.6g (must be > 0 and <= |v|^2/lambda = %.6g)%n", dot, norm2(v) / lambda);
      System.out.printf("peak heap during apply: %d MiB%n", BenchSupport.peakHeapBytes() >> 20);
    } finally {
      if (args.length == 0 || args[0].equals("-")) {
        try (Stream<Path> files = Files.walk(dir)) {
          files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    }
  }

  private static double norm2(float[] v) {
    double s = 0;
    for (float x : v) {
      s += (double) x * x;
    }
    return s;
  }
}
