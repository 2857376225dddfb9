package dev.lethe.experiment;

import dev.lethe.client.ClientSecurity;
import dev.lethe.data.DataFiles;
import dev.lethe.data.Dataset;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

/**
 * The whole erasure-quality evaluation (issues 6 and 18): the convex multi-attribute experiment
 * and the MLP experiment, each under every Fisher setting of the plan and both erase steps
 * (LEAVE_OUT, eq. 1, and FULL_FISHER, eq. 4) on the same Fisher, measured at ε = 1 and at an ε
 * calibrated on one split and reported on another; the MLP's retraining noise floor (several
 * seeds); and the SISA baseline beside them. Talks to the sidecar only through its
 * public API. Stateless; one run at a time per sidecar.
 */
public final class ErasureEvaluation {
  private ErasureEvaluation() {}

  /**
   * Runs the evaluation ({@code quick}: the reduced plan of the test suite; {@code mlpEpochs}
   * &gt; 0 overrides the plan's MLP epochs; {@code referenceOnly}: each family's reference Fisher
   * only, {@link EvaluationPlan#referenceOnly}) against the sidecar
   * at {@code target} (null or empty: an embedded one, Fisher memory budget
   * {@code fisherMemoryBytes}), writes the report to {@code markdown} with its figures beside it,
   * and returns the target lines of the report.
   *
   * @param command the command line to print in the report
   */
  public static List<String> runAndReport(boolean quick, int mlpEpochs, boolean referenceOnly,
      String target,
      String token, Path fashionDir, Path markdown, long fisherMemoryBytes, String command,
      Consumer<String> log) throws Exception {
    System.setProperty("java.awt.headless", "true");
    EvaluationPlan plan = quick ? EvaluationPlan.quick() : EvaluationPlan.full();
    if (mlpEpochs > 0) {
      plan = plan.withMlpEpochs(mlpEpochs);
    }
    if (referenceOnly) {
      plan = plan.referenceOnly();
    }
    try (Sidecar sidecar = target == null || target.isEmpty()
        ? Sidecar.embedded(fisherMemoryBytes)
        : Sidecar.remote(target, new ClientSecurity(token, null, null, null, null))) {
      Results r = run(plan, sidecar, fashionDir, log);
      String keep = System.getProperty(KEEP_PROPERTY);
      if (keep != null && !keep.isEmpty()) {
        try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(
            Files.newOutputStream(Path.of(keep)))) {
          out.writeObject(r);
        }
      }
      Report.write(r, markdown, command);
      return Report.targets(r).stream()
          .map(t -> (t.met() ? "met     " : "NOT MET ") + t.what() + ": " + t.measured()).toList();
    }
  }

  /**
   * One family's results.
   *
   * @param settings every Fisher setting with each step it ran, in plan order, LEAVE_OUT first
   * @param noise the retraining noise floor of each reported removal (empty: not measured)
   * @param gradientRatio |∇L_D(θ*)| / per-sample gradient RMS, from the first Fisher build
   */
  record FamilyResults(String key, String description, String trainingNote, double trainSeconds,
      double testAccuracy, List<TrialResult> trials, List<Sisa.Result> sisa, Removal oneSample,
      List<FisherSetting> settings, List<NoiseFloor> noise, double gradientRatio)
      implements java.io.Serializable {}

  /**
   * Everything the report shows.
   *
   * @param mlpEarly the MLP stopped early (issue 20's case), its reference Fisher only; null when
   *     the plan has none
   */
  record Results(EvaluationPlan plan, String sidecar, FamilyResults convex, FamilyResults mlp,
      FamilyResults mlpEarly, double seconds) implements java.io.Serializable {}

  /**
   * System property naming a file to keep a run's results in (Java serialization), so that
   * {@link #rerender} can write the report again without measuring again; unset: not kept.
   */
  static final String KEEP_PROPERTY = "lethe.evaluate.keep";

  /**
   * Writes the report of results kept by an earlier run ({@link #KEEP_PROPERTY}) again, with this
   * build's report code: {@code java -cp target/lethe.jar dev.lethe.experiment.ErasureEvaluation
   * KEPT MARKDOWN COMMAND}.
   */
  public static void main(String[] args) throws Exception {
    System.setProperty("java.awt.headless", "true");
    Results r;
    try (java.io.ObjectInputStream in = new java.io.ObjectInputStream(
        Files.newInputStream(Path.of(args[0])))) {
      r = (Results) in.readObject();
    }
    rerender(r, Path.of(args[1]), args[2]);
  }

  static void rerender(Results r, Path markdown, String command) throws IOException {
    Report.write(r, markdown, command);
    Report.targets(r).forEach(t -> System.out.println((t.met() ? "met     " : "NOT MET ")
        + t.what() + ": " + t.measured()));
  }

  static Results run(EvaluationPlan plan, Sidecar sidecar, Path fashionDir, Consumer<String> log)
      throws IOException {
    long t0 = System.nanoTime();
    Path trainImages = fashionDir.resolve("train-images-idx3-ubyte.gz");
    Path testImages = fashionDir.resolve("t10k-images-idx3-ubyte.gz");
    if (!Files.isRegularFile(trainImages) || !Files.isRegularFile(testImages)) {
      throw new IllegalArgumentException("Fashion-MNIST not found in " + fashionDir.toAbsolutePath()
          + " (expected train-images-idx3-ubyte.gz, t10k-images-idx3-ubyte.gz and their labels"
          + " files; Debian's dataset-fashion-mnist installs them to /usr/share/datasets/fashion-mnist)");
    }
    Dataset train = DataFiles.load(trainImages).withIdPrefix("fmnist-train");
    Dataset test = DataFiles.load(testImages).withIdPrefix("fmnist-test");
    ExecutorService pool = Executors.newFixedThreadPool(Runtime.getRuntime().availableProcessors());
    try {
      PairedFashion pairs = PairedFashion.of(train, plan.convexPairs(), train.size(), 1, "pair");
      PairedFashion testPairs = PairedFashion.of(test, plan.convexTestPairs(), test.size(), 2,
          "test-pair");
      ConvexFamily convex = new ConvexFamily(pairs, testPairs, plan.mu(), pool);
      FamilyResults c = family(plan, sidecar, convex, convexRemovals(plan, pairs),
          plan.convexSettings(), new long[0], true, log);
      MlpFamily mlp = new MlpFamily(train, test, plan.mlpTrain(), plan.mlpTest(), plan.mlp());
      FamilyResults m = family(plan, sidecar, mlp, mlpRemovals(plan, train), plan.mlpSettings(),
          plan.noiseSeeds(), true, log);
      FamilyResults early = null;
      if (plan.earlyEpochs() > 0) {
        MlpFamily e = new MlpFamily("mlp-early", train, test, plan.mlpTrain(), plan.mlpTest(),
            plan.mlp().withEpochs(plan.earlyEpochs()));
        early = family(plan, sidecar, e, mlpRemovals(plan, train),
            List.of(plan.mlpSettings().get(0)), plan.noiseSeeds(), false, log);
      }
      return new Results(plan, sidecar.describe(), c, m, early, (System.nanoTime() - t0) / 1e9);
    } finally {
      pool.shutdownNow();
    }
  }

  private static FamilyResults family(EvaluationPlan plan, Sidecar sidecar, ModelFamily family,
      List<Removal> removals, List<FisherSetting> settings, long[] noiseSeeds, boolean sisaToo,
      Consumer<String> log) throws IOException {
    ErasureRunner runner = new ErasureRunner(family, sidecar.client(), plan.grid(), log);
    double[] star = runner.trained();
    int[] all = Rows.range(family.trainSize());
    int[] test = Rows.range(family.testSize());
    double testAccuracy = family.accuracy(family.probabilities(star, true, test), true, test);
    log.accept(String.format("%s: test accuracy of θ* %.4f", family.key(), testAccuracy));
    runner.retrainAll(removals);
    List<NoiseFloor> noise = new ArrayList<>();
    if (noiseSeeds.length > 0) {
      for (Removal r : removals) {
        if (!r.calibration() && !r.group().equals(ONE)) {
          noise.add(noiseFloor(runner, r, noiseSeeds, log));
        }
      }
    }
    List<TrialResult> trials = new ArrayList<>();
    List<FisherSetting> stepped = new ArrayList<>();
    for (FisherSetting s : settings) {
      trials.addAll(runner.run(s, removals));
      s.steps().forEach(step -> stepped.add(s.withStep(step)));
    }
    Removal one = removals.stream().filter(r -> r.group().equals(ONE)).findFirst().orElseThrow();
    List<Sisa.Result> sisa = new ArrayList<>();
    for (int shards : sisaToo ? plan.shards() : new int[0]) {
      sisa.add(Sisa.run(family, shards, 3, one.forget()[0], log));
    }
    return new FamilyResults(family.key(), family.describe(), family.trainingNote(star, all),
        runner.trainSeconds(), testAccuracy, trials, sisa, one, stepped, noise,
        runner.gradientRatio());
  }

  /**
   * Retrains without the removal with each seed (the first is the family's own, whose model is
   * the gold standard already trained) and measures the retrained models.
   */
  private static NoiseFloor noiseFloor(ErasureRunner runner, Removal r, long[] seeds,
      Consumer<String> log) {
    if (!(runner.family() instanceof MlpFamily mlp)) {
      throw new IllegalArgumentException("a noise floor needs a seeded trainer: " + runner.family());
    }
    int[] keep = Rows.without(Rows.range(mlp.trainSize()), r.forget());
    double[][] accuracy = new double[seeds.length][];
    double[] loss = new double[seeds.length];
    for (int i = 0; i < seeds.length; i++) {
      if (seeds[i] == mlp.seed()) {
        accuracy[i] = runner.retrainedAccuracy(r);
        loss[i] = runner.retrainedForgetLoss(r);
      } else {
        long t0 = System.nanoTime();
        double[] theta = mlp.train(keep, seeds[i]);
        accuracy[i] = runner.accuracies(theta, r.forget());
        loss[i] = runner.forgetLoss(theta, r.forget());
        log.accept(String.format("%s: noise floor, retrained without %s with seed %d in %.1f s:"
            + " forget/retain/test accuracy %.4f/%.4f/%.4f, S's mean loss %.4f", mlp.key(),
            r.label(), seeds[i], (System.nanoTime() - t0) / 1e9, accuracy[i][0],
            accuracy[i][1], accuracy[i][2], loss[i]));
      }
    }
    return new NoiseFloor(r, seeds.clone(), accuracy, loss);
  }

  static final String ONE = "1 sample";

  static List<Removal> convexRemovals(EvaluationPlan plan, PairedFashion pairs) {
    List<Removal> out = new ArrayList<>();
    for (boolean calibration : new boolean[] {true, false}) {
      for (int a : calibration ? plan.calibrationAttributes() : plan.reportAttributes()) {
        int[] having = pairs.rowsWith(a);
        for (double ratio : plan.ratios()) {
          int k = (int) Math.round(ratio * having.length);
          String group = Math.round(ratio * 100) + "%";
          out.add(new Removal(calibration, group, "attribute " + a + ", " + group,
              Rows.sample(having, k, new Random(1000L * a + k))));
        }
      }
    }
    out.add(new Removal(false, ONE, "1 random sample",
        Rows.sample(Rows.range(pairs.size()), 1, new Random(99))));
    return out;
  }

  static List<Removal> mlpRemovals(EvaluationPlan plan, Dataset train) {
    int n = plan.mlpTrain();
    List<Removal> out = new ArrayList<>();
    for (boolean calibration : new boolean[] {true, false}) {
      int c = calibration ? plan.calibrationClass() : plan.reportClass();
      int[] inClass = java.util.stream.IntStream.range(0, n).filter(i -> train.label(i) == c)
          .toArray();
      Random random = new Random(calibration ? 11 : 12);
      out.add(new Removal(calibration, "whole class", "class " + c + ", all samples", inClass));
      out.add(new Removal(calibration, "10% of a class", "class " + c + ", 10%",
          Rows.sample(inClass, Math.max(1, inClass.length / 10), random)));
      out.add(new Removal(calibration, "1% random", "1% random samples",
          Rows.sample(Rows.range(n), Math.max(1, n / 100), random)));
    }
    out.add(new Removal(false, ONE, "1 random sample",
        Rows.sample(Rows.range(n), 1, new Random(99))));
    return out;
  }
}
