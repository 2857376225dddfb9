package dev.lethe.experiment;

import dev.lethe.client.LetheClient;
import dev.lethe.core.Batches;
import dev.lethe.core.Samples;
import dev.lethe.erase.EraseCommand;
import dev.lethe.core.EraseOutcome;
import dev.lethe.core.ErasureStep;
import dev.lethe.erase.ScaleCalibration;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.InversionMethod;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Runs one model family's erasures through a sidecar's public API and measures them against
 * retraining from scratch. For each Fisher setting it registers θ* under its own model name,
 * streams BuildFisher over the training set once, then for each step the Fisher allows
 * (LEAVE_OUT, FULL_FISHER; {@link FisherSetting#steps()}), naming the step in every Erase:
 *
 * <ol>
 *   <li>calibration split: erases each removal at ε = 1 (the spec's default), downloads the new
 *       version, and reactivates version 1 (allow_unerase) so the next erase starts from θ*
 *       again. Since θ̂(ε) = θ* + ε·Δ, one erase gives the whole ε curve. ε* maximises the mean
 *       γ over the calibration removals;
 *   <li>writes ε* into the model's spec by SetScale (what {@code lethe calibrate} does);
 *   <li>report split: erases each removal with the spec's ε*, so the reported θ̂ is the sidecar's
 *       own answer, and measures it (curves use Δ = (θ̂ − θ*)/ε*).
 * </ol>
 *
 * Beside ε*, which needs retrained models, it asks CalibrateScale (issue 20) for the ε a user
 * would choose without retraining: each calibration removal against as many unseen test samples
 * drawn like it (the holdout) and {@link #RETAINED} random training samples that stay (the
 * accuracy guard); ε_h is the geometric mean of their choices and every report removal is also
 * measured at θ* + ε_h·Δ.
 *
 *
 * Retrained models (the gold standard) depend only on the removal and are computed once, shared
 * by every Fisher and step. Not thread-safe; progress lines go to the logger given.
 */
final class ErasureRunner {
  private static final int FISHER_BATCH = 500;
  /** Retained training samples CalibrateScale's accuracy guard is measured on. */
  static final int RETAINED = 1000;
  private final ModelFamily family;
  private final LetheClient client;
  private final double[] grid;
  private final Consumer<String> log;
  private final int[] all;
  private final int[] testRows;
  private double[] trained;
  private double trainSeconds;
  private final Map<Removal, Gold> gold = new HashMap<>();
  private double gradientRatio = Double.NaN;

  /** A removal's retrained model and the measures that do not depend on the Fisher. */
  private record Gold(double[] theta, double seconds, double[] accuracyStar,
      double[] accuracyRetrained, double miaStar, double miaRetrained, double[] sigStar,
      double[] sigRetrained, int[] nonMembers, double lossStar, double lossRetrained) {}

  ErasureRunner(ModelFamily family, LetheClient client, double[] grid, Consumer<String> log) {
    this.family = family;
    this.client = client;
    this.grid = grid;
    this.log = log;
    this.all = Rows.range(family.trainSize());
    this.testRows = Rows.range(family.testSize());
  }

  ModelFamily family() {
    return family;
  }

  /** Trains θ* from scratch on every training row (once). */
  double[] trained() {
    if (trained == null) {
      long t0 = System.nanoTime();
      trained = family.train(all);
      trainSeconds = (System.nanoTime() - t0) / 1e9;
      log.accept(String.format("%s: trained θ* on %d samples in %.1f s; %s", family.key(),
          all.length, trainSeconds, family.trainingNote(trained, all)));
    }
    return trained;
  }

  double trainSeconds() {
    return trainSeconds;
  }

  /** Forget, retain and test accuracy of θ. */
  double[] accuracies(double[] theta, int[] forget) {
    int[] retain = Rows.without(all, forget);
    return new double[] {
      family.accuracy(family.probabilities(theta, false, forget), false, forget),
      family.accuracy(family.probabilities(theta, false, retain), false, retain),
      family.accuracy(family.probabilities(theta, true, testRows), true, testRows)
    };
  }

  private double membership(double[] theta, int[] forget, int[] nonMembers) {
    double[] member = family.losses(family.probabilities(theta, false, forget), false, forget);
    double[] unseen = family.losses(family.probabilities(theta, true, nonMembers), true, nonMembers);
    return Quality.membershipAuc(member, unseen);
  }

  private Gold gold(Removal r) {
    return gold.computeIfAbsent(r, removal -> {
      int[] forget = removal.forget();
      long t0 = System.nanoTime();
      double[] retrained = family.train(Rows.without(all, forget));
      double seconds = (System.nanoTime() - t0) / 1e9;
      int[] nonMembers = family.nonMembers(forget, new Random(forget.length * 31L + forget[0]));
      double[] star = trained();
      Gold g = new Gold(retrained, seconds, accuracies(star, forget),
          accuracies(retrained, forget), membership(star, forget, nonMembers),
          membership(retrained, forget, nonMembers),
          family.signature(family.probabilities(star, false, forget), forget),
          family.signature(family.probabilities(retrained, false, forget), forget), nonMembers,
          forgetLoss(star, forget), forgetLoss(retrained, forget));
      log.accept(String.format("%s: retrained without %s (%s, k=%d) from scratch in %.1f s",
          family.key(), removal.label(), removal.split(), forget.length, seconds));
      return g;
    });
  }

  /** S's mean data loss under θ. */
  double forgetLoss(double[] theta, int[] forget) {
    double[] l = family.losses(family.probabilities(theta, false, forget), false, forget);
    return java.util.Arrays.stream(l).average().orElse(Double.NaN);
  }

  /** The gold standard's mean data loss on S (retrained with the family's seed). */
  double retrainedForgetLoss(Removal r) {
    return gold(r).lossRetrained();
  }

  /**
   * |∇L_D(θ*)| / per-sample gradient RMS of the first Fisher this runner built (BuildFisher's
   * convergence check); NaN before.
   */
  double gradientRatio() {
    return gradientRatio;
  }

  /** The summary of each Fisher built so far, by {@link FisherSetting#fisherLabel()}. */
  final java.util.Map<String, FisherProgress.Summary> builds = new java.util.LinkedHashMap<>();

  /** Retrains the gold standard of every removal (from scratch, timed). */
  void retrainAll(List<Removal> removals) {
    for (Removal r : removals) {
      gold(r);
    }
  }

  double retrainSeconds(Removal r) {
    return gold(r).seconds();
  }

  /** The gold standard's forget, retain and test accuracy (retrained with the family's seed). */
  double[] retrainedAccuracy(Removal r) {
    return gold(r).accuracyRetrained().clone();
  }

  /**
   * Measures every removal under one Fisher setting, once per step it allows; returns, per step,
   * calibration then report results (their settings carry the step).
   */
  List<TrialResult> run(FisherSetting fisherSetting, List<Removal> removals) throws IOException {
    FisherSetting setting = fisherSetting.withStep(null);
    double[] star0 = trained();
    String name = family.key() + "-" + setting.slug();
    client.putModel(family.spec(name, setting.blockSize()),
        new ByteArrayInputStream(family.onnx(star0, name)));
    List<String> params = family.spec(name, setting.blockSize()).erasableParameters();
    double[] star = OnnxWeights.fetch(client, name, 1, params, family.parameterSizes());   // θ* as served (float32)
    Samples samples = family.trainBatch(all);
    int n = all.length;
    FisherProgress fisher = client.buildFisher(
        new FisherRequest(name, setting.kind(), InversionMethod.GRAM, setting.blockSize(),
            setting.minibatch(), setting.kind() == CurvatureKind.MONTE_CARLO ? 1 : 0, 7, 1, n,
            setting.structure() == null ? dev.lethe.fisher.FisherStructure.BLOCK_DIAGONAL
                : setting.structure(), 0),
        java.util.stream.IntStream.iterate(0, i -> i < n, i -> i + FISHER_BATCH)
            .mapToObj(i -> Batches.range(samples, i, Math.min(n, i + FISHER_BATCH))).iterator(),
        p -> { });
    FisherProgress.Summary s = fisher.summary();
    builds.put(setting.fisherLabel(), s);
    log.accept(String.format("%s %s: Fisher built in %.1f s (%d blocks, %.0f MB)", family.key(),
        setting.label(), s.buildSeconds(), s.blocks(), s.bytes() / 1e6));
    if (Double.isNaN(gradientRatio)) {
      gradientRatio = s.convergence().ratio();
      log.accept(String.format("%s: |∇L_D(θ*)| / gradient RMS = %.3f%s", family.key(),
          gradientRatio, s.convergence().warning().isEmpty() ? "" : " (convergence warning)"));
    }
    List<TrialResult> out = new ArrayList<>();
    for (ErasureStep step : setting.steps()) {
      out.addAll(runStep(name, setting.withStep(step), removals, star, params));
    }
    return out;
  }

  private List<TrialResult> runStep(String name, FisherSetting setting, List<Removal> removals,
      double[] star, List<String> params) throws IOException {
    List<TrialResult> out = new ArrayList<>();
    List<double[]> calibrationCurves = new ArrayList<>();
    for (Removal r : removals) {
      if (r.calibration()) {
        Erased e = erase(name, setting.step(), r, star, params, 1.0);
        TrialResult t = measure(setting, r, star, e, 1.0, Double.NaN);
        calibrationCurves.add(t.gammaCurve());
        out.add(t);
      }
    }
    double epsilon = bestEpsilon(calibrationCurves);
    client.setScale(name, epsilon);
    log.accept(String.format("%s %s: ε* = %.4g (calibration mean γ %.4f); written by SetScale",
        family.key(), setting.label(), epsilon, meanAt(calibrationCurves, indexOf(epsilon))));
    double heldOut = heldOutEpsilon(name, setting, removals);
    for (Removal r : removals) {
      if (!r.calibration()) {
        Erased e = erase(name, setting.step(), r, star, params, epsilon);
        out.add(measure(setting, r, star, e, epsilon, heldOut));
      }
    }
    return out;
  }

  /**
   * ε_h: CalibrateScale on each calibration removal (nothing erased), the geometric mean of the
   * chosen ε.
   */
  private double heldOutEpsilon(String name, FisherSetting setting, List<Removal> removals) {
    double logSum = 0;
    int count = 0;
    List<String> chosen = new ArrayList<>();
    for (Removal r : removals) {
      if (!r.calibration()) {
        continue;
      }
      int[] forget = r.forget();
      Random random = new Random(17L * forget.length + forget[0]);
      int[] holdout = java.util.Arrays.stream(family.nonMembers(forget, random)).distinct()
          .toArray();
      int[] others = Rows.without(all, forget);
      int[] retained = Rows.sample(others, Math.min(RETAINED, others.length), random);
      ScaleCalibration.Result c = client.calibrateScale(new ScaleCalibration.Request(name,
          family.trainBatch(forget), family.testBatch(holdout), family.trainBatch(retained),
          setting.step(), false, 0));
      logSum += Math.log(c.scale());
      count++;
      StringBuilder curve = new StringBuilder();
      for (ScaleCalibration.Point p : c.curve()) {
        curve.append(String.format(" %.3g:%.3f/%.3f/%.2f/%+.1f", p.scale(), p.erasedMeanLoss(),
            p.holdoutMeanLoss(), p.membershipAuc(), p.retainedAccuracyChange()));
      }
      log.accept(String.format("%s %s %s: CalibrateScale chose %.3g (%s)%s; curve ε:erased/holdout"
          + " mean loss/AUC/retained Δ points:%s", family.key(), setting.label(), r.label(),
          c.scale(), c.reason(), c.warnings().isEmpty() ? "" : "; warnings: "
          + String.join("; ", c.warnings()), curve));
      chosen.add(String.format("%s %.3g", r.label(), c.scale()));
    }
    double epsilon = Math.exp(logSum / count);
    log.accept(String.format("%s %s: held-out ε_h = %.4g (CalibrateScale per calibration removal:"
        + " %s)", family.key(), setting.label(), epsilon, String.join(", ", chosen)));
    return epsilon;
  }

  /** The step Δ = (θ̂ − θ*)/ε of one erase and its round-trip time. */
  private record Erased(double[] delta, double millis, EraseOutcome.Timings timings) {}

  private Erased erase(String name, ErasureStep step, Removal r, double[] star,
      List<String> params, double epsilon) throws IOException {
    Samples batch = family.trainBatch(r.forget());
    long t0 = System.nanoTime();
    EraseOutcome o = client.erase(new EraseCommand(name, "", batch, false, 1, false, step));
    double ms = (System.nanoTime() - t0) / 1e6;
    if (o.erased() != r.forget().length) {
      throw new IllegalStateException("erased " + o.erased() + " of " + r.forget().length
          + " samples of " + r.label());
    }
    if (o.step() != step) {
      throw new IllegalStateException("asked for step " + step + ", the sidecar ran " + o.step());
    }
    double[] hat = OnnxWeights.fetch(client, name, o.version(), params,
        family.parameterSizes());
    client.activate(name, 1, true);
    double[] delta = new double[hat.length];
    for (int i = 0; i < delta.length; i++) {
      delta[i] = (hat[i] - star[i]) / epsilon;
    }
    return new Erased(delta, ms, o.timings());
  }

  private TrialResult measure(FisherSetting setting, Removal r, double[] star, Erased e,
      double epsilon, double heldOutEpsilon) {
    Gold g = gold(r);
    int[] forget = r.forget();
    double[] gamma = new double[grid.length];
    double[] distance = new double[grid.length];
    for (int i = 0; i < grid.length; i++) {
      double[] hat = Quality.step(star, e.delta(), grid[i]);
      gamma[i] = Quality.similarityRatio(
          family.signature(family.probabilities(hat, false, forget), forget), g.sigStar(),
          g.sigRetrained());
      distance[i] = Quality.normalisedDistance(star, e.delta(), grid[i], g.theta());
    }
    // ε is a grid value (1 for calibration, the chosen ε* for the report): read it off the curves
    int at = indexOf(epsilon);
    int one = indexOf(1.0);
    double[] hat = Quality.step(star, e.delta(), epsilon);
    double[] accuracy = accuracies(hat, forget);
    double[] hatOne = Quality.step(star, e.delta(), 1.0);
    double[] atOne = epsilon == 1.0 ? accuracy : accuracies(hatOne, forget);
    AtEpsilon heldOut = Double.isNaN(heldOutEpsilon) ? null
        : at(star, e.delta(), heldOutEpsilon, forget, g);
    TrialResult t = new TrialResult(setting, r, gamma, distance, epsilon, gamma[at],
        distance[at], gamma[one], distance[one], accuracy, atOne,
        g.accuracyStar(), g.accuracyRetrained(),
        new double[] {g.miaStar(), membership(hat, forget, g.nonMembers()), g.miaRetrained()},
        e.millis(), g.seconds(), heldOut, new double[] {g.lossStar(),
            forgetLoss(hatOne, forget), forgetLoss(hat, forget), g.lossRetrained()});
    EraseOutcome.Timings tm = e.timings();
    log.accept(String.format("%s %s %s [%s]: k=%d, erase %.0f ms (gradients %.0f, of which S's"
        + " Fisher rows %.0f; solve %.0f; store %.0f), γ %.3f, distance %.3f at ε %.3g",
        family.key(), setting.label(), r.label(), r.split(), forget.length, e.millis(),
        tm.gradientsMs(), tm.leaveOutRowsMs(), tm.solveMs(), tm.storeMs(), t.gamma(),
        t.distance(), epsilon));
    return t;
  }

  /** θ̂ = θ* + ε·Δ measured at any ε (not only the grid's). */
  private AtEpsilon at(double[] star, double[] delta, double epsilon, int[] forget, Gold g) {
    double[] hat = Quality.step(star, delta, epsilon);
    double gamma = Quality.similarityRatio(
        family.signature(family.probabilities(hat, false, forget), forget), g.sigStar(),
        g.sigRetrained());
    return new AtEpsilon(epsilon, gamma,
        Quality.normalisedDistance(star, delta, epsilon, g.theta()), accuracies(hat, forget),
        membership(hat, forget, g.nonMembers()), forgetLoss(hat, forget));
  }

  private double bestEpsilon(List<double[]> curves) {
    int best = 0;
    for (int i = 1; i < grid.length; i++) {
      if (meanAt(curves, i) > meanAt(curves, best)) {
        best = i;
      }
    }
    return grid[best];
  }

  private int indexOf(double epsilon) {
    for (int i = 0; i < grid.length; i++) {
      if (grid[i] == epsilon) {
        return i;
      }
    }
    throw new IllegalArgumentException("ε " + epsilon + " not on the grid");
  }

  private static double meanAt(List<double[]> curves, int i) {
    double s = 0;
    for (double[] c : curves) {
      s += c[i];
    }
    return curves.isEmpty() ? Double.NaN : s / curves.size();
  }
}
