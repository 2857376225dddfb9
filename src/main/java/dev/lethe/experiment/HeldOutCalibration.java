package dev.lethe.experiment;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The report's section and targets on choosing ε without retraining (issue 20): beside the
 * retrain-calibrated ε* the ε_h that CalibrateScale chooses on held-out data, the γ and accuracy
 * gaps each gives, and the MLP stopped early as a case of its own (S's mean loss at ε_h against
 * three retrainings, the test accuracy it moves, BuildFisher's convergence check). Stateless.
 *
 * <p>Targets (the acceptance): convex, reference Fisher, each step: |mean γ at ε_h − mean
 * γ at ε*| ≤ {@link #CONVEX_GAMMA_DIFFERENCE}; MLP stopped early, reference Fisher, each step, at
 * ε_h: S's mean loss within the range of the retrainings on every reported removal, and test
 * accuracy moved by at most {@link #TEST_POINTS} points from θ*'s.
 */
final class HeldOutCalibration {
  static final double CONVEX_GAMMA_DIFFERENCE = 0.03;
  static final double TEST_POINTS = 1.0;

  private HeldOutCalibration() {}

  static List<Report.Target> targets(ErasureEvaluation.Results r) {
    List<Report.Target> out = new ArrayList<>();
    ErasureEvaluation.FamilyResults c = r.convex();
    FisherSetting ref = c.settings().get(0);
    for (FisherSetting s : List.of(ref, ref.otherStep())) {
      if (!c.settings().contains(s)) {
        continue;
      }
      List<TrialResult> t = Plots.reported(c, s);
      double star = Report.mean(t, TrialResult::gamma);
      double held = Report.mean(t, x -> x.heldOut().gamma());
      out.add(new Report.Target("convex (" + s.label() + "): mean γ at the held-out-calibrated ε_h"
          + " within " + CONVEX_GAMMA_DIFFERENCE + " of mean γ at the retrain-calibrated ε*",
          String.format(Locale.ROOT, "ε_h %s: %.3f; ε* %s: %.3f; difference %.3f",
              Targets.g3(t.get(0).heldOut().epsilon()), held, Targets.g3(t.get(0).epsilon()),
              star, held - star), Math.abs(held - star) <= CONVEX_GAMMA_DIFFERENCE));
    }
    ErasureEvaluation.FamilyResults e = r.mlpEarly();
    if (e == null) {
      return out;
    }
    for (FisherSetting s : e.settings()) {
      List<TrialResult> t = Plots.reported(e, s);
      String at = "MLP stopped early (" + s.label() + ", ε_h = "
          + Targets.g3(t.get(0).heldOut().epsilon()) + "): ";
      StringBuilder measured = new StringBuilder();
      boolean met = !e.noise().isEmpty();
      for (NoiseFloor n : e.noise()) {
        TrialResult x = Targets.trial(t, n.removal());
        double[] range = n.forgetLossRange();
        double loss = x.heldOut().forgetMeanLoss();
        met &= loss >= range[0] && loss <= range[1];
        measured.append(measured.length() == 0 ? "" : "; ").append(n.removal().group())
            .append(' ').append(f3(loss)).append(" in [").append(f3(range[0])).append(", ")
            .append(f3(range[1])).append(']');
      }
      out.add(new Report.Target(at + "S's mean loss within the range of " + e.noise().get(0)
          .seeds().length + " retrainings without S on each of " + e.noise().size()
          + " removals", measured.toString(), met));
      double moved = t.stream().mapToDouble(x -> Math.abs(testMove(x))).max()
          .orElse(Double.NaN);
      StringBuilder each = new StringBuilder();
      for (NoiseFloor n : e.noise()) {
        TrialResult x = Targets.trial(t, n.removal());
        each.append(each.length() == 0 ? "" : "; ").append(n.removal().group()).append(' ')
            .append(String.format(Locale.ROOT, "%+.2f (retrained %+.2f)", testMove(x),
                retrainedMove(x)));
      }
      out.add(new Report.Target(at + "test accuracy moves by ≤ " + TEST_POINTS + " point"
          + " from θ*'s on each removal (θ̂ ε_h, and θ*₋S's own move beside it)",
          each + ": largest " + Targets.f2(moved), moved <= TEST_POINTS));
    }
    return out;
  }

  /** θ̂(ε_h)'s test accuracy minus θ*'s, points. */
  static double testMove(TrialResult x) {
    return 100 * (x.heldOut().accuracy()[2] - x.accuracyStar()[2]);
  }

  /** θ*₋S's test accuracy minus θ*'s, points: what retraining itself moves. */
  static double retrainedMove(TrialResult x) {
    return 100 * (x.accuracyRetrained()[2] - x.accuracyStar()[2]);
  }

  /** The section (Markdown). */
  static String section(ErasureEvaluation.Results r) {
    StringBuilder md = new StringBuilder("## Choosing ε without retraining (held-out"
        + " calibration)\n\n");
    md.append(String.format(Locale.ROOT, "A user cannot retrain to find ε*. CalibrateScale"
        + " (`lethe calibrate NAME --erase-like FILE --holdout FILE`) chooses ε from held-out"
        + " data instead: the ε where the erased samples' mean loss matches that of samples the"
        + " model never saw, as long as the retained data's accuracy falls by at most 1 point"
        + " (docs/erase.md). Here it runs, per Fisher and step, on each calibration removal"
        + " (nothing erased) with as many unseen test samples drawn like S as the holdout"
        + " (duplicates dropped) and %d random training samples that stay as the guard's"
        + " retained set; ε_h is the geometric mean of its choices. Each report removal is then"
        + " measured at θ* + ε_h·Δ, from the same erase as the ε* figures.%n%n",
        ErasureRunner.RETAINED));
    md.append("| family | Fisher | step | ε* (retrained) | mean γ, ε* | ε_h (held out) |"
        + " mean γ, ε_h | γ ε_h − γ ε* | mean distance, ε* / ε_h | forget / retain / test gap,"
        + " ε_h | membership AUC θ̂ ε* / θ̂ ε_h / θ*₋S |\n"
        + "|---|---|---|---|---|---|---|---|---|---|---|\n");
    List<ErasureEvaluation.FamilyResults> families = new ArrayList<>(List.of(r.convex(), r.mlp()));
    if (r.mlpEarly() != null) {
      families.add(r.mlpEarly());
    }
    for (ErasureEvaluation.FamilyResults f : families) {
      for (FisherSetting s : f.settings()) {
        List<TrialResult> t = Plots.reported(f, s);
        double star = Report.mean(t, TrialResult::gamma);
        double held = Report.mean(t, x -> x.heldOut().gamma());
        md.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %.3f | %s | %.3f | %+.3f |"
            + " %.3f / %.3f | %s / %s / %s | %.3f / %.3f / %.3f |%n", f.key(), s.fisherLabel(),
            s.step(), Targets.g3(t.get(0).epsilon()), star,
            Targets.g3(t.get(0).heldOut().epsilon()), held, held - star,
            Report.mean(t, TrialResult::distance), Report.mean(t, x -> x.heldOut().distance()),
            gap(t, 0), gap(t, 1), gap(t, 2), Report.mean(t, x -> x.membership()[1]),
            Report.mean(t, x -> x.heldOut().membership()),
            Report.mean(t, x -> x.membership()[2])));
      }
    }
    md.append("\nGaps are θ̂(ε_h)'s accuracy minus θ*₋S's, points, means over the reported"
        + " removals.\n\n");
    if (r.mlpEarly() != null) {
      md.append(early(r.mlpEarly(), r.mlp()));
    }
    return md.toString();
  }

  private static String gap(List<TrialResult> t, int split) {
    return Targets.f2(Report.mean(t,
        x -> 100 * (x.heldOut().accuracy()[split] - x.accuracyRetrained()[split])));
  }

  private static String early(ErasureEvaluation.FamilyResults e,
      ErasureEvaluation.FamilyResults trained) {
    StringBuilder md = new StringBuilder("### An MLP stopped early\n\n");
    md.append(String.format(Locale.ROOT, "%s. θ* %s; test accuracy %.4f. BuildFisher's"
        + " convergence check: |∇L_D(θ*)| / per-sample gradient RMS = %.3f (warning above %.2f;"
        + " the MLP trained to the end: %.3f). SSSE assumes θ* is a minimum; stopped early, the"
        + " step at ε = 1 overshoots. Per reported removal, S's mean loss (the erased samples'"
        + " own loss, what a membership attacker sees) under θ*, θ̂ at ε = 1, at the retrained"
        + " ε* and at the held-out ε_h, against %d retrainings without S (same recipe, seeds"
        + " %s); and the test accuracy each moves from θ*'s.%n%n", e.description(),
        e.trainingNote(), e.testAccuracy(), e.gradientRatio(),
        dev.lethe.fisher.Convergence.THRESHOLD, trained.gradientRatio(),
        e.noise().isEmpty() ? 0 : e.noise().get(0).seeds().length,
        e.noise().isEmpty() ? "-" : java.util.Arrays.toString(e.noise().get(0).seeds())));
    md.append("| step | removal | k | S's loss θ* | θ̂ ε = 1 | θ̂ ε* | θ̂ ε_h | retrained"
        + " (min – max) | ε_h within | test acc θ* → θ̂ ε_h (points) | θ*₋S's test move |\n"
        + "|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (FisherSetting s : e.settings()) {
      List<TrialResult> t = Plots.reported(e, s);
      for (NoiseFloor n : e.noise()) {
        TrialResult x = Targets.trial(t, n.removal());
        double[] range = n.forgetLossRange();
        double loss = x.heldOut().forgetMeanLoss();
        md.append(String.format(Locale.ROOT, "| %s | %s | %d | %.3f | %.3f | %.3f | %.3f |"
            + " %.3f – %.3f | %s | %.4f → %.4f (%+.2f) | %+.2f |%n", s.step(), n.removal().label(),
            x.k(), x.forgetLoss()[0], x.forgetLoss()[1], x.forgetLoss()[2], loss, range[0],
            range[1], loss >= range[0] && loss <= range[1] ? "yes" : "**no**",
            x.accuracyStar()[2], x.heldOut().accuracy()[2], testMove(x), retrainedMove(x)));
      }
    }
    return md.append('\n').toString();
  }

  private static String f3(double v) {
    return Targets.f3(v);
  }
}
