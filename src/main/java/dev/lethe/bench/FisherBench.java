package dev.lethe.bench;

import dev.lethe.core.DaemonThreads;
import dev.lethe.fisher.BlockLayout;
import dev.lethe.fisher.FisherAccumulator;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherHeader;
import dev.lethe.fisher.FisherInverse;
import dev.lethe.fisher.InversionMethod;
import dev.lethe.fisher.BuildOptions;
import dev.lethe.fisher.FisherStore;
import dev.lethe.storage.LetheDb;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.ExecutorService;
import java.util.stream.Stream;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * Fisher benchmark (prints figures beside a baseline measured in the same run):
 *
 * <ol>
 *   <li>Gram accumulation GFLOP/s (one block of 1024, rank-256 updates, one thread) beside EJML's
 *       {@code multAddTransA} on the same shapes;
 *   <li>build time of gram vs sherman-morrison through the server's pipeline ({@link
 *       dev.lethe.fisher.FisherBuild}) on the same synthetic rows (n = 20 000, 64 blocks of
 *       1024); Sherman–Morrison on a subset of rows, extrapolated linearly in n;
 *   <li>apply throughput (GB/s of F⁻¹ read from RocksDB) beside the memory-copy bandwidth.
 * </ol>
 *
 * <p>Arguments: [n (20000)] [blocks (64)] [sherman-morrison rows (100)] [threads (2)].
 */
public final class FisherBench {
  private FisherBench() {}

  public static void main(String[] args) throws Exception {
    int n = BenchSupport.intArg(args, 0, 20_000);
    int blocks = BenchSupport.intArg(args, 1, 64);
    int smRows = BenchSupport.intArg(args, 2, 100);
    int threads = BenchSupport.intArg(args, 3, 2);
    int b = 1024;
    double lambda = 1e-3;
    System.out.printf("FisherBench: n=%d, %d blocks of %d (P=%d), threads=%d, %d cores, max heap %d MiB%n",
        n, blocks, b, blocks * b, threads, Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20);

    kernel(b);

    BlockLayout layout = BlockLayout.uniform(blocks * b, b);
    SyntheticRows source = new SyntheticRows(7, layout.parameterCount());
    BuildOptions options = BuildOptions.defaults(lambda).withThreads(threads).withMemoryBudget(4L << 30);
    double gen = generation(source, n);
    System.out.printf("%n[build] the server's pipeline (FisherBuild: session, accumulators, inversion,"
        + " RocksDB writer) on synthetic rows in place of a model's gradients%n");
    System.out.printf("generating the %d x %d synthetic rows alone: %.1f s (included in both builds below)%n",
        n, layout.parameterCount(), gen);

    Path dir = Files.createTempDirectory("lethe-fisherbench");
    ExecutorService pool = DaemonThreads.pool("fisher", threads);
    try (LetheDb db = LetheDb.open(dir.resolve("db"), 8L << 20)) {
      FisherStore store = new FisherStore(db);
      FisherProgress.Summary gram = source.build(store, "bench", layout, n, options, pool, dir);
      System.out.printf("gram, n=%d: %.1f s (%d pass, incl. %d Cholesky inversions and writing %.2f GB to RocksDB)%n",
          n, gram.buildSeconds(), gram.passes(), blocks, gram.bytes() / 1e9);

      FisherProgress.Summary gramSub = source.build(store, "bench-subset", layout, smRows, options, pool, dir);
      FisherProgress.Summary sm = source.build(store, "bench-sm", layout, smRows,
          options.withMethod(InversionMethod.SHERMAN_MORRISON).withBatchRows(Math.min(smRows, 256)), pool, dir);
      double smFull = sm.buildSeconds() * n / smRows;
      System.out.printf("sherman-morrison, n=%d (measured subset): %.1f s = %.3f s per sample%n", smRows, sm.buildSeconds(), sm.buildSeconds() / smRows);
      System.out.printf("sherman-morrison, n=%d (EXTRAPOLATED linearly from the subset): %.0f s%n", n, smFull);
      System.out.printf("gram, n=%d (same subset, for reference): %.1f s (mostly the %d inversions)%n", smRows, gramSub.buildSeconds(), blocks);
      System.out.printf("=> gram is %.1fx faster than sherman-morrison at n=%d (target >= 10x)%n", smFull / gram.buildSeconds(), n);

      apply(store, store.header("bench", "f").orElseThrow(), threads, pool);
    } finally {
      pool.shutdownNow();
      try (Stream<Path> files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  /** Gram accumulation through FisherAccumulator (transpose + symmetric kernel) vs EJML. */
  private static void kernel(int b) {
    int k = 256;
    int rows = 4096;
    float[] g = new float[rows * b];
    new SyntheticRows(3, b).fill(0, rows, g);
    DMatrixRMaj gm = new DMatrixRMaj(k, b);
    for (int i = 0; i < k * b; i++) {
      gm.data[i] = g[i];
    }
    DMatrixRMaj c = new DMatrixRMaj(b, b);
    BlockLayout one = BlockLayout.uniform(b, b);
    BuildOptions o = BuildOptions.defaults(1).withThreads(1).withBatchRows(k);
    double flops = 2.0 * rows * b * b; // a full Gᵀ G of these rows
    double best = 0;
    double bestEjml = 0;
    for (int round = 0; round < 4; round++) {
      FisherAccumulator acc = new FisherAccumulator(one, 0, 1, rows, o, null);
      long s = System.nanoTime();
      acc.accept(g, rows);
      best = Math.max(best, flops / ((System.nanoTime() - s) / 1e9) / 1e9);
      s = System.nanoTime();
      for (int r = 0; r < rows / k; r++) {
        CommonOps_DDRM.multAddTransA(gm, gm, c);
      }
      bestEjml = Math.max(bestEjml, flops / ((System.nanoTime() - s) / 1e9) / 1e9);
    }
    System.out.printf("%n[kernel] Gram accumulation of %d rows into one %dx%d block, rank-%d updates, 1 thread (best of 4):%n", rows, b, b, k);
    System.out.printf("gram accumulator: %.2f GFLOP/s counted as a full G'G (2*n*b^2 flops; it computes the upper triangle, so %.2f actual)%n", best, best / 2);
    System.out.printf("EJML CommonOps_DDRM.multAddTransA, same shapes: %.2f GFLOP/s  => %.2fx%n", bestEjml, best / bestEjml);
  }

  private static double generation(SyntheticRows source, int n) {
    long s = System.nanoTime();
    for (int r = 0; r < n; r += 256) {
      source.rows(SyntheticRows.placeholders(Math.min(256, n - r)), r);
    }
    return (System.nanoTime() - s) / 1e9;
  }

  private static void apply(FisherStore store, FisherHeader header, int threads, ExecutorService pool)
      throws Exception {
    int p = header.layout().parameterCount();
    float[] row = new float[p];
    new SyntheticRows(9, p).fill(0, 1, row);
    double[] v = new double[p];
    for (int i = 0; i < p; i++) {
      v[i] = row[i];
    }
    double[] out = new double[p];
    double bytes = header.totalStoredBytes();
    System.out.printf("%n[apply] F^-1 = %.0f MiB of float32 blocks in RocksDB (page cache warm), best of 10:%n", bytes / (1 << 20));
    for (int t : new int[] {1, threads}) {
      for (boolean verify : new boolean[] {true, false}) {
        try (FisherInverse inv = store.open("bench", "f", pool, t, verify)) {
          double best = Double.MAX_VALUE;
          for (int rep = 0; rep < 10; rep++) {
            long s = System.nanoTime();
            inv.apply(v, out);
            best = Math.min(best, (System.nanoTime() - s) / 1e9);
          }
          double gbs = bytes / best / 1e9;
          double copy = BenchSupport.copyBandwidth(t, 64 << 20);
          System.out.printf("apply, %d thread(s), CRC32C %s: %.1f ms, %.2f GB/s; memory copy, %d thread(s): %.2f GB/s  => %.0f%%%n",
              t, verify ? "on " : "off", best * 1e3, gbs, t, copy, 100 * gbs / copy);
        }
      }
    }
  }
}
