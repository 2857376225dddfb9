package dev.lethe.bench;

import dev.lethe.client.LetheClient;
import dev.lethe.core.Batches;
import dev.lethe.core.EraseOutcome;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;
import dev.lethe.data.BatchFormat;
import dev.lethe.data.DataFiles;
import dev.lethe.data.Dataset;
import dev.lethe.erase.EraseCommand;
import dev.lethe.erase.EraseConfig;
import dev.lethe.fisher.BlockLayout;
import dev.lethe.fisher.BuildOptions;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.FisherStore;
import dev.lethe.fisher.FisherStructure;
import dev.lethe.fisher.InversionMethod;
import dev.lethe.fisher.Linalg;
import dev.lethe.onnx.OnnxBuilder;
import dev.lethe.server.LetheServer;
import dev.lethe.server.ServerConfig;
import dev.lethe.storage.LetheDb;
import dev.lethe.store.StoreConfig;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.stream.IntStream;

/**
 * {@code lethe bench fisher-large}: an EKFAC Fisher of a wide MLP (784-4096-2048-10, 11.6 M
 * erasable parameters, He-initialised, not trained) on Fashion-MNIST training images, built
 * through the real server (BuildFisher over loopback) from n samples, its stored size, and erase
 * latencies of 1 and 100 samples (LEAVE_OUT, the default step): the first erase after the
 * build (whose end kept the parts and the weights' projection), then, after a restart of the
 * server, the first erase (which projects the weights and reads the parts: the baseline of the
 * kept state), 3 one-sample erases and one of 100, each from version 1, and 3 sequential
 * 1-sample erases, each from the version the one before made — beside the block-diagonal F⁻¹
 * of the same model at B = 1024: its stored size (exact, from the block layout) and its build
 * time, measured on a slice of 16 blocks of synthetic rows through the same pipeline
 * ({@code FisherBuild}: accumulation and Cholesky inversion, not the model's gradients) and
 * extrapolated linearly in the blocks. Printed as ratios.
 *
 * <p>Arguments: [n=10000] [hidden1=4096] [hidden2=2048] [kind=EMPIRICAL] [dataDir].
 */
public final class FisherLargeBench {
  private static final String MODEL = "wide";
  private static final int BATCH = 500;
  private static final int SLICE_BLOCKS = 16;

  private FisherLargeBench() {}

  public static void main(String[] args) throws Exception {
    int n = BenchSupport.intArg(args, 0, 10_000);
    int h1 = BenchSupport.intArg(args, 1, 4096);
    int h2 = BenchSupport.intArg(args, 2, 2048);
    CurvatureKind kind = args.length > 3 ? CurvatureKind.valueOf(args[3]) : CurvatureKind.EMPIRICAL;
    Path data = Path.of(args.length > 4 ? args[4] : "../shared/data/fashion-mnist");
    Path images = data.resolve("train-images-idx3-ubyte.gz");
    if (!Files.isRegularFile(images)) {
      throw new IllegalArgumentException("Fashion-MNIST not found in " + data.toAbsolutePath());
    }
    Dataset train = DataFiles.load(images).withIdPrefix("fmnist");
    Samples samples = train.batch(0, n, BatchFormat.of("x").withScale(1 / 255f));
    int[] widths = {784, h1, h2, 10};
    OnnxBuilder b = new OnnxBuilder(MODEL).floatInput("x", -1, 784);
    Random rnd = new Random(7);
    String in = "x";
    long p = 0;
    for (int l = 0; l < 3; l++) {
      int fanIn = widths[l];
      int out = widths[l + 1];
      float[] w = new float[fanIn * out];
      double scale = Math.sqrt(2.0 / fanIn);
      for (int i = 0; i < w.length; i++) {
        w[i] = (float) (scale * rnd.nextGaussian());
      }
      b.initializer("W" + l, w, out, fanIn).initializer("b" + l, new float[out], out);
      String z = l == 2 ? "z" : "h" + l;
      b.node("Gemm", new String[] {in, "W" + l, "b" + l}, new String[] {z}, "transB", 1L);
      if (l < 2) {
        b.node("Relu", "r" + l, z);
        in = "r" + l;
      }
      p += (long) fanIn * out + out;
    }
    byte[] onnx = b.floatOutput("z", -1, 10).toBytes();
    System.out.printf("FisherLargeBench: MLP 784-%d-%d-10, P=%d erasable parameters, n=%d"
        + " Fashion-MNIST samples, %s; %d cores, max heap %d MiB; linear algebra: %s%n", h1, h2, p,
        n, kind, Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20,
        Linalg.describe());
    Path dir = Files.createTempDirectory("lethe-fisher-large");
    try {
      run(dir, onnx, samples, n, p, kind);
    } finally {
      try (var paths = Files.walk(dir)) {
        paths.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  private static void run(Path dir, byte[] onnx, Samples samples, int n, long p,
      CurvatureKind kind) throws Exception {
    ServerConfig config = new ServerConfig("127.0.0.1:0", dir.resolve("data"),
        new StoreConfig(1000, StoreConfig.DEFAULT_MAX_MODEL_BYTES),
        ServerConfig.DEFAULT_MAX_MESSAGE_BYTES, false, 5, EraseConfig.defaults(),
        ServerConfig.DEFAULT_FISHER_MEMORY_BYTES);
    LetheServer server = LetheServer.netty(config, s -> {}).start();
    double ekfacS;
    long ekfacBytes;
    List<Double> one = new ArrayList<>();
    List<Double> sequential = new ArrayList<>();
    double hundred;
    double firstAfterBuild;
    double cold;
    int[] order = IntStream.range(0, n).toArray();
    dev.lethe.train.MlpTrainer.shuffle(order, new Random(2024));
    int next = 0;
    try (LetheClient client = new LetheClient("127.0.0.1:" + server.port())) {
      client.putModel(new ModelConfig(MODEL, LossFunction.SOFTMAX_CROSS_ENTROPY, "z", List.of(), n,
          1e-4, 1e-3, 0, 0, 0), new ByteArrayInputStream(onnx));
      long t0 = System.nanoTime();
      FisherProgress built = client.buildFisher(new FisherRequest(MODEL, kind, InversionMethod.GRAM,
          0, 0, 0, 0, 1, n, FisherStructure.EKFAC, 0),
          IntStream.iterate(0, i -> i < n, i -> i + BATCH)
              .mapToObj(i -> Batches.range(samples, i, Math.min(n, i + BATCH))).iterator(),
          pr -> { });
      ekfacS = (System.nanoTime() - t0) / 1e9;
      FisherProgress.Summary s = built.summary();
      ekfacBytes = s.bytes();
      System.out.printf("EKFAC build over %d samples: %.1f s round trip (server %.1f s, %d passes);"
          + " stored %.3f GB (target <= 1 GB)%n", n, ekfacS, s.buildSeconds(), s.passes(),
          ekfacBytes / 1e9);
      Timed t = erase(client, samples, new int[] {order[next++]}, 1);
      firstAfterBuild = t.ms();
      System.out.print("first erase after the build (its end kept the parts and the weights'"
          + " projection): ");
      t.print(1, "");
    } finally {
      server.stop();
    }
    // the baseline: the first erase after a restart finds nothing kept
    server = LetheServer.netty(config, s -> {}).start();
    try (LetheClient client = new LetheClient("127.0.0.1:" + server.port())) {
      client.activate(MODEL, 1, true);
      Timed t = erase(client, samples, new int[] {order[next++]}, 1);
      cold = t.ms();
      System.out.print("first erase after a restart (the weights' projection computed, the"
          + " parts read from RocksDB): ");
      t.print(1, "");
      for (int rep = 0; rep < 3; rep++) {
        client.activate(MODEL, 1, true);
        t = erase(client, samples, new int[] {order[next++]}, 1);
        one.add(t.ms());
        t.print(1, "");
      }
      client.activate(MODEL, 1, true);
      t = erase(client, samples, Arrays.copyOfRange(order, next, next + 100), 1);
      hundred = t.ms();
      t.print(100, "");
      next += 100;
      // as a user's erases arrive: each from the version the one before made (θ̃ derived)
      for (int rep = 0; rep < 3; rep++) {
        t = erase(client, samples, new int[] {order[next++]}, t.out().version());
        sequential.add(t.ms());
        t.print(1, "sequential ");
      }
    } finally {
      server.stop();
    }
    // the block-diagonal baseline of the same P at B = 1024
    BlockLayout full = BlockLayout.forParameters(List.of(new long[] {p}), 1024);
    long blockBytes = 0;
    for (int blk = 0; blk < full.blockCount(); blk++) {
      long size = full.size(blk);
      blockBytes += size * (size + 1) / 2 * Float.BYTES * 2;
    }
    BlockLayout slice = BlockLayout.uniform(SLICE_BLOCKS * 1024, 1024);
    double sliceS;
    try (LetheDb db = LetheDb.open(dir.resolve("slice"))) {
      ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
      try {
        long t0 = System.nanoTime();
        new SyntheticRows(1, slice.parameterCount()).build(new FisherStore(db), "slice", slice, n,
            BuildOptions.defaults(1e-3), pool, dir);
        sliceS = (System.nanoTime() - t0) / 1e9;
      } finally {
        pool.shutdownNow();
      }
    }
    double blockS = sliceS * full.blockCount() / SLICE_BLOCKS;
    System.out.printf("block-diagonal B=1024: %d blocks, stored %.1f GB (F^-1 and F, exact);"
        + " build of %d blocks over %d synthetic rows %.1f s => %.0f s for all %d blocks"
        + " (EXTRAPOLATED; without the model's gradients, and in %d+ passes over the samples"
        + " at the default 1 GiB of Fisher memory)%n", full.blockCount(), blockBytes / 1e9,
        SLICE_BLOCKS, n, sliceS, blockS, full.blockCount(),
        (full.blockCount() + 127) / 128);
    double median = one.stream().sorted().toList().get(one.size() / 2);
    double sequentialMedian = sequential.stream().sorted().toList().get(sequential.size() / 2);
    System.out.printf("=> EKFAC storage %.1fx smaller (%.3f GB vs %.1f GB), build %.1fx faster"
        + " (%.0f s vs %.0f s extrapolated); erase 1 sample %.0f ms (median of 3; %.2fx the first"
        + " erase's after a restart, %.0f ms; first after the build %.0f ms; sequential %.0f ms),"
        + " 100 samples %.0f ms (target <= 1000 ms)%n",
        blockBytes / (double) ekfacBytes, ekfacBytes / 1e9, blockBytes / 1e9, blockS / ekfacS,
        ekfacS, blockS, median, median / cold, cold, firstAfterBuild, sequentialMedian, hundred);
  }

  /** One erase's round trip (ms) and outcome. */
  private record Timed(double ms, EraseOutcome out) {
    void print(int k, String prefix) {
      EraseOutcome.Timings t = out.timings();
      System.out.printf("%serase of %d sample(s) (%s): %.0f ms round trip [gradients %.0f"
          + " (leave-out rows %.0f), solve %.0f, store %.0f, swap %.0f]%n", prefix, k, out.step(),
          ms, t.gradientsMs(), t.leaveOutRowsMs(), t.solveMs(), t.storeMs(), t.swapMs());
    }
  }

  /** Erases {@code rows} of {@code samples} from {@code version}, timed. */
  private static Timed erase(LetheClient client, Samples samples, int[] rows, long version) {
    long t0 = System.nanoTime();
    EraseOutcome out = client.erase(new EraseCommand(MODEL, "", Batches.rows(samples, rows),
        false, version, false));
    return new Timed((System.nanoTime() - t0) / 1e6, out);
  }
}
