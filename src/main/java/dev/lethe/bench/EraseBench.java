package dev.lethe.bench;

import dev.lethe.client.LetheClient;
import dev.lethe.core.Batches;
import dev.lethe.core.Samples;
import dev.lethe.data.BatchFormat;
import dev.lethe.data.DataFiles;
import dev.lethe.data.Dataset;
import dev.lethe.erase.EraseCommand;
import dev.lethe.erase.EraseConfig;
import dev.lethe.core.EraseOutcome;
import dev.lethe.core.ErasureStep;
import dev.lethe.fisher.FisherHeader;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.InversionMethod;
import dev.lethe.server.LetheServer;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import dev.lethe.train.Mlp;
import dev.lethe.train.MlpConfig;
import dev.lethe.train.MlpTrainer;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * Erase latency on a Fashion-MNIST MLP with its Fisher cached, beside retraining the same model
 * from scratch on the remaining data (same {@link MlpTrainer}, same epochs), in one run.
 *
 * <p>Trains 784-H-10 on the first {@code trainSamples} training images, registers it with an
 * embedded sidecar on loopback (temporary data directory), streams BuildFisher (EMPIRICAL, GRAM)
 * over the same samples, then for k = 1, 10, 100, 1000 and each repeat: erases k samples not
 * erased before through the Erase RPC with each step — FULL_FISHER (eq. 4, the stored F⁻¹) and
 * LEAVE_OUT (eq. 1, F₋S solved exactly per block), each from version 1 re-activated (so every
 * erase starts from the trained weights θ* and n) — and retrains from scratch without them once.
 * Prints each erase's round-trip latency with the server's breakdown (gradients, of which the
 * leave-out rows, solve, store, swap), the retrain time, the ratio retrain / erase, and the test
 * accuracy of the original, erased and retrained models; then medians per k and step with the
 * cost of LEAVE_OUT as a ratio to FULL_FISHER in the same run, and the Fisher's storage (F⁻¹
 * alone, as stored before leave-out, and with F beside it). One erase of a separate sample runs
 * first as a warm-up and is not counted.
 *
 * <p>Usage: {@code lethe bench erase [trainSamples] [hidden] [epochs] [repeats] [dataDir] [kind]}
 * (defaults 10000, 64, 4, 3, ../shared/data/fashion-mnist, EMPIRICAL); the other training settings are
 * {@link MlpConfig#defaults()}. Run with {@code -Xmx3g}: the Fisher build's accumulators take
 * 8·b² bytes per block of b entries (about 0.3 GB at the defaults), the training set as floats
 * 31 MB per 10 000 samples.
 */
public final class EraseBench {
  private static final String MODEL = "fmnist-mlp";
  private static final float PIXEL_SCALE = 1 / 255f;
  private static final int FISHER_BATCH = 500;
  private static final int[] SIZES = {1, 10, 100, 1000};

  private EraseBench() {}

  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
    int hidden = args.length > 1 ? Integer.parseInt(args[1]) : 64;
    int epochs = args.length > 2 ? Integer.parseInt(args[2]) : 4;
    int repeats = args.length > 3 ? Integer.parseInt(args[3]) : 3;
    Path dataDir = Path.of(args.length > 4 ? args[4] : "../shared/data/fashion-mnist");
    CurvatureKind kind = args.length > 5 ? CurvatureKind.valueOf(args[5]) : CurvatureKind.EMPIRICAL;
    Path images = dataDir.resolve("train-images-idx3-ubyte.gz");
    Path testImages = dataDir.resolve("t10k-images-idx3-ubyte.gz");
    if (!Files.isRegularFile(images) || !Files.isRegularFile(testImages)) {
      throw new IllegalArgumentException("Fashion-MNIST not found in " + dataDir.toAbsolutePath()
          + " (expected train-images-idx3-ubyte.gz, t10k-images-idx3-ubyte.gz and their labels)");
    }
    Dataset train = DataFiles.load(images).withIdPrefix("fmnist-train");
    Dataset test = DataFiles.load(testImages).withIdPrefix("fmnist-test");
    if (n < 1 + repeats * Arrays.stream(SIZES).sum() + 1 || n > train.size()) {
      throw new IllegalArgumentException("trainSamples must be in [" + (2 + repeats * 1111) + ", "
          + train.size() + "], got " + n);
    }
    MlpConfig config = MlpConfig.defaults().withHidden(hidden).withEpochs(epochs);
    Path dir = Files.createTempDirectory("lethe-erase-bench");
    try {
      run(train, test, n, config, repeats, dir, kind);
    } finally {
      try (var paths = Files.walk(dir)) {
        paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  /** One erase-and-retrain run. */
  private record Run(int k, ErasureStep step, double totalMs, EraseOutcome outcome, double retrainS,
      double erasedAccuracy, double retrainedAccuracy) {
    double otherMs() {
      EraseOutcome.Timings t = outcome.timings();
      return totalMs - t.gradientsMs() - t.solveMs() - t.storeMs() - t.swapMs();
    }
  }

  private static void run(Dataset train, Dataset test, int n, MlpConfig config, int repeats,
      Path dir, CurvatureKind kind) throws Exception {
    BatchFormat format = BatchFormat.of(Mlp.INPUT).withScale(PIXEL_SCALE);
    int[] allRows = IntStream.range(0, n).toArray();
    int[] testRows = IntStream.range(0, test.size()).toArray();
    MlpTrainer trainer = new MlpTrainer(config);
    long t0 = System.nanoTime();
    MlpTrainer.Result trained = trainer.train(train, allRows, PIXEL_SCALE);
    double trainS = (System.nanoTime() - t0) / 1e9;
    Mlp model = trained.model();
    System.out.printf("Erase benchmark: Fashion-MNIST MLP 784-%d-10 (P=%d), n=%d training samples;"
        + " %d epochs, batch %d, lr %s, momentum %s, mu %s, seed %d; %d cores, max heap %d MiB%n",
        config.hidden(), model.parameterCount(), n, config.epochs(), config.batchSize(),
        config.learningRate(), config.momentum(), config.l2(), config.seed(),
        Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20);
    double originalJava = model.accuracy(test, testRows, PIXEL_SCALE);
    System.out.printf("train on %d samples: %.2f s (epoch objectives %s); test accuracy %.4f%n",
        n, trainS, formatLosses(trained.epochLosses()), originalJava);

    ServerConfig serverConfig = new ServerConfig("127.0.0.1:0", dir.resolve("data"),
        new StoreConfig(1000, StoreConfig.DEFAULT_MAX_MODEL_BYTES),
        ServerConfig.DEFAULT_MAX_MESSAGE_BYTES, false, 5, EraseConfig.defaults(),
        ServerConfig.DEFAULT_FISHER_MEMORY_BYTES);
    LetheServer server = LetheServer.netty(serverConfig, s -> {}).start();
    try (LetheClient client = new LetheClient("127.0.0.1:" + server.port())) {
      client.putModel(Mlp.spec(MODEL, n, config.l2()),
          new ByteArrayInputStream(model.onnx(MODEL)));
      Samples samples = train.batch(0, n, format);
      Samples testBatch = test.batch(0, test.size(), format);
      System.out.printf("sidecar Evaluate of version 1 on the %d test samples: accuracy %.4f"
          + " (Java forward pass above: %.4f)%n", test.size(),
          client.evaluate(MODEL, 1, testBatch).accuracy(), originalJava);

      long f0 = System.nanoTime();
      FisherProgress fisher = client.buildFisher(
          new FisherRequest(MODEL, kind, InversionMethod.GRAM, 0, 0, 0, 0, 1, n),
          IntStream.iterate(0, i -> i < n, i -> i + FISHER_BATCH)
              .mapToObj(i -> Batches.range(samples, i, Math.min(n, i + FISHER_BATCH))).iterator(),
          p -> { });
      double fisherS = (System.nanoTime() - f0) / 1e9;
      FisherProgress.Summary s = fisher.summary();
      FisherHeader header = server.fishers().header(MODEL, s.fisherId());
      System.out.printf("BuildFisher %s/GRAM over %d samples (batches of %d): %.1f s round"
          + " trip (server: %.1f s, %d blocks, %d pass(es)); storage: F^-1 %.0f MB (all a"
          + " FULL_FISHER erase reads, and all that was stored before leave-out), with F beside"
          + " it %.0f MB (%.2fx)%n", kind, s.samples(),
          FISHER_BATCH, fisherS, s.buildSeconds(), s.blocks(), s.passes(),
          header.totalStoredBytes() / 1e6, header.totalBytes() / 1e6,
          header.totalBytes() / (double) header.totalStoredBytes());

      int[] order = allRows.clone();
      MlpTrainer.shuffle(order, new Random(2024));
      int next = 0;
      EraseOutcome warm = client.erase(new EraseCommand(MODEL, "", Batches.rows(samples,
          new int[] {order[next++]}), false, 1, false));
      System.out.printf("warm-up erase of 1 sample -> version %d (not counted)%n", warm.version());

      List<Run> runs = new ArrayList<>();
      for (int k : SIZES) {
        for (int rep = 0; rep < repeats; rep++) {
          int[] forget = Arrays.copyOfRange(order, next, next + k);
          next += k;
          int[] remaining = without(allRows, forget);
          long r0 = System.nanoTime();
          Mlp retrained = trainer.train(train, remaining, PIXEL_SCALE).model();
          double retrainS = (System.nanoTime() - r0) / 1e9;
          double retrainedAcc = retrained.accuracy(test, testRows, PIXEL_SCALE);
          for (ErasureStep step : ErasureStep.values()) {
            client.activate(MODEL, 1, true);
            long e0 = System.nanoTime();
            EraseOutcome out = client.erase(new EraseCommand(MODEL, "",
                Batches.rows(samples, forget), false, 1, false, step));
            double totalMs = (System.nanoTime() - e0) / 1e6;
            if (out.erased() != k || out.step() != step) {
              throw new IllegalStateException("erased " + out.erased() + " of " + k
                  + " samples with " + out.step() + " (" + out.stepNote() + ")");
            }
            double erasedAcc = client.evaluate(MODEL, out.version(), testBatch).accuracy();
            Run run = new Run(k, step, totalMs, out, retrainS, erasedAcc, retrainedAcc);
            runs.add(run);
            EraseOutcome.Timings t = out.timings();
            System.out.printf("k=%-4d run %d %-11s: erase %8.1f ms (gradients %6.1f [leave-out"
                + " rows %6.1f], solve %6.1f, store %5.1f, swap %5.1f, other %5.1f) | retrain on"
                + " %d: %6.2f s | retrain/erase %7.1fx | |update| %.3g, erased samples' loss"
                + " %.3f -> %.3f | test acc erased %.4f, retrained %.4f%n", k, rep + 1, step,
                totalMs, t.gradientsMs(), t.leaveOutRowsMs(), t.solveMs(), t.storeMs(),
                t.swapMs(), run.otherMs(), remaining.length, retrainS, retrainS * 1e3 / totalMs,
                out.updateNorm(), out.lossBefore(), out.lossAfter(), erasedAcc, retrainedAcc);
          }
        }
      }
      System.out.printf("medians over %d runs (test accuracy of the original model %.4f):%n",
          repeats, originalJava);
      for (int k : SIZES) {
        double[] byStep = new double[ErasureStep.values().length];
        for (ErasureStep step : ErasureStep.values()) {
          List<Run> of = runs.stream().filter(r -> r.k() == k && r.step() == step).toList();
          double erase = median(of.stream().mapToDouble(Run::totalMs).toArray());
          byStep[step.ordinal()] = erase;
          double retrain = median(of.stream().mapToDouble(Run::retrainS).toArray());
          System.out.printf("k=%-4d %-11s erase %8.1f ms [gradients %.1f, solve %.1f, store %.1f,"
              + " swap %.1f, other %.1f] | retrain %.2f s | speedup retrain/erase %.1fx | test acc"
              + " erased %.4f, retrained %.4f%n", k, step, erase,
              median(of.stream().mapToDouble(r -> r.outcome().timings().gradientsMs()).toArray()),
              median(of.stream().mapToDouble(r -> r.outcome().timings().solveMs()).toArray()),
              median(of.stream().mapToDouble(r -> r.outcome().timings().storeMs()).toArray()),
              median(of.stream().mapToDouble(r -> r.outcome().timings().swapMs()).toArray()),
              median(of.stream().mapToDouble(Run::otherMs).toArray()),
              retrain, retrain * 1e3 / erase,
              median(of.stream().mapToDouble(Run::erasedAccuracy).toArray()),
              median(of.stream().mapToDouble(Run::retrainedAccuracy).toArray()));
        }
        System.out.printf("k=%-4d LEAVE_OUT / FULL_FISHER latency (same run): %.2fx%n", k,
            byStep[ErasureStep.LEAVE_OUT.ordinal()] / byStep[ErasureStep.FULL_FISHER.ordinal()]);
      }
      solveAgainstApply(server, s, runs);
    } finally {
      server.stop();
    }
  }

  /**
   * The erase's solve (median at k = 1) beside the apply benchmark of the same F⁻¹ through the
   * server's own Fishers (best of 10, page cache warm) and beside the bytes of F⁻¹ over the
   * machine's read bandwidth (the lower bound: every byte of F⁻¹ is read once per solve).
   */
  private static void solveAgainstApply(LetheServer server, FisherProgress.Summary s, List<Run> runs)
      throws InterruptedException {
    String fisherId = s.fisherId();
    int p = (int) server.store().info(MODEL).parameterCount();
    double[] v = new double[p];
    Random random = new Random(4);
    for (int i = 0; i < p; i++) {
      v[i] = random.nextGaussian();
    }
    double[] out = new double[p];
    var solver = server.fishers().solver(MODEL, fisherId);
    double best = Double.MAX_VALUE;
    for (int rep = 0; rep < 10; rep++) {
      long t0 = System.nanoTime();
      solver.apply(v, out);
      best = Math.min(best, (System.nanoTime() - t0) / 1e6);
    }
    double solve = median(runs.stream()
        .filter(r -> r.k() == 1 && r.step() == ErasureStep.FULL_FISHER)
        .mapToDouble(r -> r.outcome().timings().solveMs()).toArray());
    double read = BenchSupport.readBandwidth(Runtime.getRuntime().availableProcessors(), 64 << 20);
    long inverseBytes = server.fishers().header(MODEL, fisherId).totalStoredBytes();
    double bound = inverseBytes / read / 1e6;
    System.out.printf("solve of a 1-sample FULL_FISHER erase (median) %.1f ms; apply of the same"
        + " %.0f MB F^-1 through the server's Fishers %.1f ms (best of 10) => %.2fx (target <="
        + " 1.5x); read bandwidth %.2f GB/s => lower bound %.1f ms (solve at %.2fx of it)%n",
        solve, inverseBytes / 1e6, best, solve / best, read, bound, solve / bound);
  }

  private static int[] without(int[] rows, int[] removed) {
    Set<Integer> drop = new HashSet<>();
    for (int r : removed) {
      drop.add(r);
    }
    return Arrays.stream(rows).filter(r -> !drop.contains(r)).toArray();
  }

  private static String formatLosses(double[] losses) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < losses.length; i++) {
      b.append(i > 0 ? ", " : "").append(String.format("%.3f", losses[i]));
    }
    return b.append(']').toString();
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
