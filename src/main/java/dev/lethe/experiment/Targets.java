package dev.lethe.experiment;

import dev.lethe.core.ErasureStep;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The report's targets (issue 18's acceptance, and issue 6's speed targets) and what a run
 * measured against them. Stateless.
 *
 * <ul>
 *   <li>convex, TRUE Fisher at the reference block size, LEAVE_OUT, <b>ε = 1</b> (no
 *       calibration), over the reported removals: mean γ ≥ 0.96, mean normalised distance ≤ 0.2,
 *       every 100 % removal γ ≥ 0.92;
 *   <li>MLP, the reference Fisher, each step at ε = 1 and at the calibrated ε*: on every reported
 *       removal the test and retained-data accuracy gaps to the retrained model within the
 *       retrain-to-retrain spread of that removal ({@link NoiseFloor}), and the forget-set gap
 *       ≤ 5 points;
 *   <li>speed: one-sample erase against retraining and SISA's shard retrain.
 * </ul>
 */
final class Targets {
  static final double CONVEX_GAMMA = 0.96;
  static final double CONVEX_DISTANCE = 0.2;
  static final double CONVEX_FULL_REMOVAL_GAMMA = 0.92;
  static final double MLP_FORGET_POINTS = 5;
  static final String FULL_REMOVAL = "100%";

  private Targets() {}

  static List<Report.Target> of(ErasureEvaluation.Results r) {
    List<Report.Target> out = new ArrayList<>();
    ErasureEvaluation.FamilyResults c = r.convex();
    FisherSetting convexRef = c.settings().get(0);
    List<TrialResult> ct = Plots.reported(c, convexRef);
    double gamma = Report.mean(ct, TrialResult::gammaAtOne);
    double distance = Report.mean(ct, TrialResult::distanceAtOne);
    String at = "convex (" + convexRef.label() + ", ε = 1, no calibration): ";
    out.add(new Report.Target(at + "mean γ ≥ " + CONVEX_GAMMA, f3(gamma), gamma >= CONVEX_GAMMA));
    out.add(new Report.Target(at + "mean normalised distance ≤ " + CONVEX_DISTANCE, f3(distance),
        distance <= CONVEX_DISTANCE));
    List<TrialResult> full = ct.stream().filter(t -> t.removal().group().equals(FULL_REMOVAL))
        .toList();
    double worst = full.stream().mapToDouble(TrialResult::gammaAtOne).min().orElse(Double.NaN);
    out.add(new Report.Target(at + "every 100 % removal γ ≥ " + CONVEX_FULL_REMOVAL_GAMMA,
        "smallest " + f3(worst) + " of " + full.size(), worst >= CONVEX_FULL_REMOVAL_GAMMA));

    ErasureEvaluation.FamilyResults m = r.mlp();
    FisherSetting mlpRef = m.settings().get(0);
    for (FisherSetting s : List.of(mlpRef, mlpRef.otherStep())) {
      if (!m.settings().contains(s)) {
        continue;
      }
      for (boolean one : new boolean[] {true, false}) {
        out.addAll(mlp(m, s, one));
      }
    }
    for (ErasureEvaluation.FamilyResults f : List.of(c, m)) {
      FisherSetting ref = f.settings().get(0);
      for (FisherSetting s : List.of(ref, ref.otherStep())) {
        TrialResult t = Report.one(f, s);
        double speedup = t.retrainSeconds() * 1e3 / t.eraseMs();
        out.add(new Report.Target(f.key() + ": one-sample SSSE erase (" + s.step() + ") ≥ 100×"
            + " faster than retraining", String.format(Locale.ROOT, "%.0f ms vs %.1f s: %.0f×",
                t.eraseMs(), t.retrainSeconds(), speedup), speedup >= 100));
      }
      TrialResult t = Report.one(f);
      for (Sisa.Result s : f.sisa()) {
        double x = s.oneShardRetrainSeconds() * 1e3 / t.eraseMs();
        out.add(new Report.Target(f.key() + ": one-sample " + ref.step() + " erase ≥ 10× faster"
            + " than SISA's shard retrain, S = " + s.shards(), String.format(Locale.ROOT, "%.2f s: %.1f×",
                s.oneShardRetrainSeconds(), x), x >= 10));
      }
    }
    return out;
  }

  /** The MLP's three targets for one step at ε = 1 ({@code one}) or at ε*. */
  private static List<Report.Target> mlp(ErasureEvaluation.FamilyResults m, FisherSetting s,
      boolean one) {
    List<TrialResult> t = Plots.reported(m, s);
    String at = "MLP (" + s.label() + ", " + (one ? "ε = 1" : "ε* = " + g3(t.get(0).epsilon()))
        + "): ";
    List<Report.Target> out = new ArrayList<>();
    for (int split : new int[] {2, 1}) {
      StringBuilder measured = new StringBuilder();
      boolean met = !m.noise().isEmpty();
      for (NoiseFloor n : m.noise()) {
        TrialResult x = trial(t, n.removal());
        double gap = Math.abs(gap(x, split, one));
        met &= gap <= n.spread(split);
        measured.append(measured.length() == 0 ? "" : "; ").append(n.removal().group())
            .append(' ').append(f2(gap)).append(" vs ").append(f2(n.spread(split)));
      }
      out.add(new Report.Target(at + "absolute " + (split == 2 ? "test" : "retained-data")
          + " accuracy gap within the retrain-to-retrain spread on each of " + m.noise().size()
          + " removals (gap vs spread, points)", measured.toString(), met));
    }
    double forget = t.stream().mapToDouble(x -> Math.abs(gap(x, 0, one))).max()
        .orElse(Double.NaN);
    out.add(new Report.Target(at + "absolute forget-set accuracy gap ≤ " + f0(MLP_FORGET_POINTS)
        + " points (largest over removals)", f2(forget) + " points",
        forget <= MLP_FORGET_POINTS));
    return out;
  }

  /** θ̂'s accuracy minus the retrained model's on a split, points, at ε = 1 or at the erase's ε. */
  static double gap(TrialResult t, int split, boolean atOne) {
    double[] a = atOne ? t.accuracyAtOne() : t.accuracy();
    return 100 * (a[split] - t.accuracyRetrained()[split]);
  }

  static TrialResult trial(List<TrialResult> trials, Removal r) {
    return trials.stream().filter(x -> x.removal().equals(r)).findFirst().orElseThrow();
  }

  /** The default step's name, for prose. */
  static String defaultStep() {
    return ErasureStep.LEAVE_OUT.name();
  }

  private static String f0(double v) {
    return String.format(Locale.ROOT, "%.0f", v);
  }

  static String f2(double v) {
    return String.format(Locale.ROOT, "%.2f", v);
  }

  static String f3(double v) {
    return String.format(Locale.ROOT, "%.3f", v);
  }

  static String g3(double v) {
    return String.format(Locale.ROOT, "%.3g", v);
  }
}
