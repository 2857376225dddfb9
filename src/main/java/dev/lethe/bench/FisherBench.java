package dev.lethe.bench;

import dev.lethe.core.DaemonThreads;
import dev.lethe.fisher.BlockInversion;
import dev.lethe.fisher.BlockLayout;
import dev.lethe.fisher.FisherAccumulator;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherHeader;
import dev.lethe.fisher.FisherInverse;
import dev.lethe.fisher.InversionMethod;
import dev.lethe.fisher.Linalg;
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

    ExecutorService pool = DaemonThreads.pool("fisher", threads);
    kernel(b, threads, pool);

    BlockLayout layout = BlockLayout.uniform(blocks * b, b);
    SyntheticRows source = new SyntheticRows(7, layout.parameterCount());
    BuildOptions options = BuildOptions.defaults(lambda).withThreads(threads).withMemoryBudget(4L << 30);
    double gen = generation(source, n);
    System.out.printf("%n[build] the server's pipeline (FisherBuild: session, accumulators, inversion,"
        + " RocksDB writer) on synthetic rows in place of a model's gradients%n");
    System.out.printf("generating the %d x %d synthetic rows alone: %.1f s (included in both builds below)%n",
        n, layout.parameterCount(), gen);

    Path dir = Files.createTempDirectory("lethe-fisherbench");
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

      apply(store, gram.fisherId(), store.header("bench", gram.fisherId()).orElseThrow(), threads, pool);
    } finally {
      pool.shutdownNow();
      try (Stream<Path> files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  /**
   * Gram accumulation through FisherAccumulator (the build's kernel: transposes, zero-row skip,
   * the rank-k update of {@link Linalg}) against one DSYRK of the same rows straight through the
   * BLAS (OpenBLAS where installed), and EJML's general product for reference.
   */
  private static void kernel(int b, int threads, ExecutorService pool) {
    int k = 256;
    int rows = 4096;
    float[] g = new float[rows * b];
    new SyntheticRows(3, b).fill(0, rows, g);
    double[] gt = new double[rows * b]; // column-major rows x b, as the BLAS takes it
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < b; c++) {
        gt[c * rows + r] = g[r * b + c];
      }
    }
    DMatrixRMaj gm = new DMatrixRMaj(k, b);
    for (int i = 0; i < k * b; i++) {
      gm.data[i] = g[i];
    }
    DMatrixRMaj c = new DMatrixRMaj(b, b);
    double[] cBlas = new double[b * b];
    BlockLayout one = BlockLayout.uniform(b, b);
    BuildOptions o = BuildOptions.defaults(1).withThreads(threads).withBatchRows(k);
    double flops = (double) rows * b * (b + 1); // the upper triangle of G'G: b(b+1)/2 dot products
    double best = 0;
    double bestBlas = 0;
    double bestOne = 0;
    double bestEjml = 0;
    double[] gtk = new double[rows * b]; // each k-row slice column-major k x b, slices one after another
    for (int r = 0; r < rows; r++) {
      for (int col = 0; col < b; col++) {
        gtk[(r / k) * k * b + col * k + r % k] = g[r * b + col];
      }
    }
    for (int round = 0; round < 4; round++) {
      FisherAccumulator acc = new FisherAccumulator(one, 0, 1, rows, o, pool);
      long s = System.nanoTime();
      acc.accept(g, rows);
      best = Math.max(best, flops / ((System.nanoTime() - s) / 1e9) / 1e9);
      s = System.nanoTime();
      for (int r = 0; r < rows; r += k) {
        // the build's shapes: rank-k updates of k rows, already transposed (column-major k x b)
        dev.ludovic.netlib.blas.BLAS.getInstance().dsyrk("L", "T", b, k, 1.0, gtk, r * b, k, 1.0, cBlas, 0, b);
      }
      bestBlas = Math.max(bestBlas, flops / ((System.nanoTime() - s) / 1e9) / 1e9);
      s = System.nanoTime();
      dev.ludovic.netlib.blas.BLAS.getInstance().dsyrk("L", "T", b, rows, 1.0, gt, rows, 1.0, cBlas, b);
      bestOne = Math.max(bestOne, flops / ((System.nanoTime() - s) / 1e9) / 1e9);
      if (round < 2) {
        s = System.nanoTime();
        for (int r = 0; r < rows / k; r++) {
          CommonOps_DDRM.multAddTransA(gm, gm, c);
        }
        bestEjml = Math.max(bestEjml, 2 * flops / ((System.nanoTime() - s) / 1e9) / 1e9);
      }
    }
    System.out.printf("%n[kernel] Gram accumulation of %d rows into one %dx%d block (best of 4); linear algebra: %s%n",
        rows, b, b, Linalg.describe());
    System.out.printf("gram accumulator (rank-%d updates, as a build runs them): %.2f GFLOP/s (the upper triangle: %d*%d*%d flops)%n",
        k, best, rows, b, b + 1);
    String blas = dev.ludovic.netlib.blas.BLAS.getInstance().getClass().getSimpleName();
    System.out.printf("%d DSYRK calls of rank %d (the same shapes) through %s: %.2f GFLOP/s  => accumulator at %.0f%% of it (target >= 50%%)%n",
        rows / k, k, blas, bestBlas, 100 * best / bestBlas);
    System.out.printf("one DSYRK of all %d rows (rank %d) through %s: %.2f GFLOP/s (what larger updates would reach)%n",
        rows, rows, blas, bestOne);
    System.out.printf("EJML CommonOps_DDRM.multAddTransA (full product, counted as 2x), 1 thread: %.2f GFLOP/s%n", bestEjml);
    inversions(b);
  }

  /** Cholesky inversions of b x b SPD blocks as the build does them, beside EJML's. */
  private static void inversions(int b) {
    int count = 8;
    double[] f = new double[b * b];
    java.util.Random random = new java.util.Random(5);
    double[] a = new double[b * b];
    for (int i = 0; i < a.length; i++) {
      a[i] = random.nextGaussian();
    }
    DMatrixRMaj am = DMatrixRMaj.wrap(b, b, a);
    DMatrixRMaj spd = new DMatrixRMaj(b, b);
    CommonOps_DDRM.multTransA(am, am, spd);
    for (int i = 0; i < b; i++) {
      spd.data[i * b + i] += b;
    }
    long s = System.nanoTime();
    for (int rep = 0; rep < count; rep++) {
      System.arraycopy(spd.data, 0, f, 0, f.length);
      BlockInversion.invert(f, b, "bench block", 1);
    }
    double build = (System.nanoTime() - s) / 1e9 / count;
    s = System.nanoTime();
    for (int rep = 0; rep < 2; rep++) {
      DMatrixRMaj inv = new DMatrixRMaj(b, b);
      org.ejml.interfaces.linsol.LinearSolverDense<DMatrixRMaj> chol =
          org.ejml.dense.row.factory.LinearSolverFactory_DDRM.chol(b);
      chol.setA(spd.copy());
      chol.invert(inv);
    }
    double ejml = (System.nanoTime() - s) / 1e9 / 2;
    System.out.printf("Cholesky inversion of a %dx%d block: %.1f ms as the build runs it; EJML %.1f ms  => %.1fx (64 blocks: %.1f s vs %.1f s)%n",
        b, b, build * 1e3, ejml * 1e3, ejml / build, 64 * build, 64 * ejml);
  }

  private static double generation(SyntheticRows source, int n) {
    long s = System.nanoTime();
    for (int r = 0; r < n; r += 256) {
      source.rows(SyntheticRows.placeholders(Math.min(256, n - r)), r);
    }
    return (System.nanoTime() - s) / 1e9;
  }

  private static void apply(FisherStore store, String fisherId, FisherHeader header, int threads,
      ExecutorService pool)
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
    double dense = 0;
    for (int b = 0; b < header.layout().blockCount(); b++) {
      dense += 4.0 * header.layout().size(b) * header.layout().size(b);
    }
    System.out.printf("%n[apply] F^-1 = %.0f MiB of float32 blocks in RocksDB, %s (dense: %.0f MiB); page cache warm, best of 10:%n",
        bytes / (1 << 20), header.packed() ? "packed upper triangles" : "dense", dense / (1 << 20));
    for (int t : new int[] {1, threads}) {
      for (boolean verify : new boolean[] {true, false}) {
        try (FisherInverse inv = store.open("bench", fisherId, pool, t, verify)) {
          double best = Double.MAX_VALUE;
          for (int rep = 0; rep < 10; rep++) {
            long s = System.nanoTime();
            inv.apply(v, out);
            best = Math.min(best, (System.nanoTime() - s) / 1e9);
          }
          double gbs = bytes / best / 1e9;
          double copy = BenchSupport.copyBandwidth(t, 64 << 20);
          double read = BenchSupport.readBandwidth(t, 64 << 20);
          System.out.printf("apply, %d thread(s), CRC32C %s: %.1f ms, %.2f GB/s read of F^-1 (%.2f GB/s dense-equivalent); memory copy %.2f GB/s (%.0f%%); read %.2f GB/s (%.0f%%, target >= 60%%)%n",
              t, verify ? "on " : "off", best * 1e3, gbs, dense / best / 1e9, copy, 100 * gbs / copy, read, 100 * gbs / read);
        }
      }
    }
  }
}
