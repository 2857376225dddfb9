package dev.lethe.experiment;

import dev.lethe.core.ErasureStep;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The report's sections on the erase step (issue 18): LEAVE_OUT (eq. 1, F of the samples kept)
 * against FULL_FISHER (eq. 4, F over all n) on the same Fisher, at ε = 1 and at the calibrated
 * ε*; the MLP's retraining noise floor with θ̂'s gaps beside it; and which step the evidence
 * favours per model family. Stateless.
 */
final class StepComparison {
  private StepComparison() {}

  /** The family's step tables (Markdown); {@code grid} is the ε grid of the curves. */
  static String section(ErasureEvaluation.FamilyResults f, double[] grid) {
    StringBuilder md = new StringBuilder("### LEAVE_OUT against FULL_FISHER (report split)\n\n");
    String last = largestGroup(f);
    md.append("Both steps solve with the same Fisher, erase the same samples from θ* and are"
        + " measured against the same retrained models. ε = 1 is the step as the paper derives"
        + " it (no calibration); ε* is the calibration split's choice for that Fisher and step;"
        + " \"best ε\" maximises the report split's own mean γ (hindsight, for comparison)."
        + " Mini-batch-averaged Fishers (m > 1) have no per-sample rows to leave out and run"
        + " FULL_FISHER only.\n\n");
    md.append("| Fisher | step | mean γ, ε = 1 | mean distance, ε = 1 | γ ").append(last)
        .append(", ε = 1 | ε* | mean γ, ε* | mean distance, ε* | γ ").append(last)
        .append(", ε* | best ε | mean γ, best ε | median erase |\n")
        .append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (FisherSetting s : f.settings()) {
      List<TrialResult> t = Plots.reported(f, s);
      List<TrialResult> big = t.stream().filter(x -> x.removal().group().equals(last)).toList();
      md.append(String.format(Locale.ROOT,
          "| %s | %s | %.3f | %.3f | %.3f | %s | %.3f | %.3f | %.3f | %s | %.3f | %.0f ms |%n",
          s.fisherLabel(), s.step(), Report.mean(t, TrialResult::gammaAtOne),
          Report.mean(t, TrialResult::distanceAtOne), Report.mean(big, TrialResult::gammaAtOne),
          Targets.g3(t.get(0).epsilon()), Report.mean(t, TrialResult::gamma),
          Report.mean(t, TrialResult::distance), Report.mean(big, TrialResult::gamma),
          Targets.g3(bestEpsilon(t, grid)), bestGamma(t),
          Report.median(t.stream().mapToDouble(TrialResult::eraseMs).toArray())));
    }
    md.append("\nAccuracy gaps θ̂ − θ*₋S in points, means over the reported removals:\n\n"
        + "| Fisher | step | forget, ε = 1 | retain, ε = 1 | test, ε = 1 | forget, ε* | retain, ε*"
        + " | test, ε* |\n|---|---|---|---|---|---|---|---|\n");
    for (FisherSetting s : f.settings()) {
      List<TrialResult> t = Plots.reported(f, s);
      md.append("| ").append(s.fisherLabel()).append(" | ").append(s.step()).append(" |");
      for (boolean one : new boolean[] {true, false}) {
        for (int split = 0; split < 3; split++) {
          final int sp = split;
          md.append(' ').append(Targets.f2(Report.mean(t, x -> Targets.gap(x, sp, one))))
              .append(" |");
        }
      }
      md.append('\n');
    }
    FisherSetting ref = f.settings().get(0);
    FisherSetting other = ref.otherStep();
    List<TrialResult> a = Plots.reported(f, ref);
    List<TrialResult> b = Plots.reported(f, other);
    md.append("\nPer removal, ").append(ref.fisherLabel()).append(" (L = LEAVE_OUT, F ="
        + " FULL_FISHER):\n\n| removal | k | γ ε = 1, L / F | distance ε = 1, L / F | test acc ε = 1,"
        + " L / F / θ*₋S | γ ε*, L / F | distance ε*, L / F |\n|---|---|---|---|---|---|---|\n");
    for (TrialResult x : a) {
      TrialResult y = Targets.trial(b, x.removal());
      md.append(String.format(Locale.ROOT, "| %s | %d | %.3f / %.3f | %.3f / %.3f | %.4f / %.4f /"
          + " %.4f | %.3f / %.3f | %.3f / %.3f |%n", x.removal().label(), x.k(), x.gammaAtOne(),
          y.gammaAtOne(), x.distanceAtOne(), y.distanceAtOne(), x.accuracyAtOne()[2],
          y.accuracyAtOne()[2], x.accuracyRetrained()[2], x.gamma(), y.gamma(), x.distance(),
          y.distance()));
    }
    md.append('\n');
    if (!f.noise().isEmpty()) {
      md.append(noise(f));
    }
    return md.toString();
  }

  private static String noise(ErasureEvaluation.FamilyResults f) {
    NoiseFloor n0 = f.noise().get(0);
    StringBuilder md = new StringBuilder("### Retraining noise floor\n\n");
    md.append(String.format(Locale.ROOT, "SGD retraining is itself noisy: each reported removal"
        + " is retrained from scratch without S with %d seeds (%s; seed %d is θ*'s and the gold"
        + " standard's). The spread is the largest minus the smallest accuracy over the seeds, in"
        + " points. θ̂'s gaps (θ̂ − θ*₋S of seed %d, points, forget / retain / test) of %s are"
        + " judged against it: test and retained gaps within the spread, forget gap ≤ 5.%n%n",
        n0.seeds().length, java.util.Arrays.toString(n0.seeds()), n0.seeds()[0], n0.seeds()[0],
        f.settings().get(0).fisherLabel()));
    md.append("| removal | k | retrained test accuracy per seed | spread forget / retain / test |");
    FisherSetting ref = f.settings().get(0);
    List<FisherSetting> steps = List.of(ref, ref.otherStep());
    for (FisherSetting s : steps) {
      md.append(" ").append(s.step()).append(" ε = 1 | ").append(s.step()).append(" ε* |");
    }
    md.append("\n|---|---|---|---|").append("---|".repeat(2 * steps.size())).append('\n');
    for (NoiseFloor n : f.noise()) {
      List<String> acc = new ArrayList<>();
      for (double[] a : n.accuracy()) {
        acc.add(String.format(Locale.ROOT, "%.4f", a[2]));
      }
      md.append(String.format(Locale.ROOT, "| %s | %d | %s | %.2f / %.2f / %.2f |",
          n.removal().label(), n.removal().forget().length, String.join(", ", acc), n.spread(0),
          n.spread(1), n.spread(2)));
      for (FisherSetting s : steps) {
        TrialResult t = Targets.trial(Plots.reported(f, s), n.removal());
        for (boolean one : new boolean[] {true, false}) {
          md.append(String.format(Locale.ROOT, " %s / %s / %s |", mark(t, 0, one, n),
              mark(t, 1, one, n), mark(t, 2, one, n)));
        }
      }
      md.append('\n');
    }
    return md.append("\n(✗: outside the spread, or a forget gap above 5 points.)\n\n").toString();
  }

  private static String mark(TrialResult t, int split, boolean one, NoiseFloor n) {
    double gap = Targets.gap(t, split, one);
    boolean ok = split == 0 ? Math.abs(gap) <= Targets.MLP_FORGET_POINTS
        : Math.abs(gap) <= n.spread(split);
    return Targets.f2(gap) + (ok ? "" : " ✗");
  }

  /** Which step the evidence favours, per family and Fisher kind (Markdown). */
  static String defaultStep(ErasureEvaluation.Results r) {
    StringBuilder md = new StringBuilder("## Which step should be the default\n\n"
        + "Per Fisher (m = 1), the step with the higher mean γ on the report split (and its"
        + " mean distance), at ε = 1 and at each step's own ε*:\n\n"
        + "| family | Fisher | ε = 1: LEAVE_OUT / FULL_FISHER γ | distance | ε*: LEAVE_OUT /"
        + " FULL_FISHER γ | distance | better at ε = 1 | better at ε* |\n"
        + "|---|---|---|---|---|---|---|---|\n");
    List<String> verdicts = new ArrayList<>();
    for (ErasureEvaluation.FamilyResults f : List.of(r.convex(), r.mlp())) {
      int[] wins = new int[4];
      for (FisherSetting s : f.settings()) {
        if (s.step() != ErasureStep.LEAVE_OUT) {
          continue;
        }
        List<TrialResult> lo = Plots.reported(f, s);
        List<TrialResult> ff = Plots.reported(f, s.otherStep());
        double g1 = Report.mean(lo, TrialResult::gammaAtOne);
        double h1 = Report.mean(ff, TrialResult::gammaAtOne);
        double g = Report.mean(lo, TrialResult::gamma);
        double h = Report.mean(ff, TrialResult::gamma);
        wins[g1 >= h1 ? 0 : 1]++;
        wins[g >= h ? 2 : 3]++;
        md.append(String.format(Locale.ROOT, "| %s | %s | %.3f / %.3f | %.3f / %.3f | %.3f /"
            + " %.3f | %.3f / %.3f | %s | %s |%n", f.key(), s.fisherLabel(), g1, h1,
            Report.mean(lo, TrialResult::distanceAtOne), Report.mean(ff,
                TrialResult::distanceAtOne), g, h, Report.mean(lo, TrialResult::distance),
            Report.mean(ff, TrialResult::distance), g1 >= h1 ? "LEAVE_OUT" : "FULL_FISHER",
            g >= h ? "LEAVE_OUT" : "FULL_FISHER"));
      }
      verdicts.add(String.format(Locale.ROOT, "- %s: LEAVE_OUT has the higher mean γ for %d of %d"
          + " Fishers at ε = 1 and %d of %d at ε*.%s%s LEAVE_OUT's ε* per Fisher: %s.", f.key(),
          wins[0], wins[0] + wins[1], wins[2], wins[2] + wins[3],
          wins[1] > wins[0] ? " **Without calibration (ε = 1) FULL_FISHER is better on this"
              + " model family.**" : "",
          wins[3] > wins[2] ? " **With calibration (ε*) FULL_FISHER is better on this model"
              + " family.**" : "", leaveOutEpsilons(f)));
    }
    md.append('\n').append(String.join("\n", verdicts)).append("\n\n");
    return md.toString();
  }

  /** The largest mean γ over the grid (at {@link #bestEpsilon}). */
  static double bestGamma(List<TrialResult> t) {
    double[] m = Plots.mean(t.stream().map(TrialResult::gammaCurve).toList());
    return java.util.Arrays.stream(m).max().orElse(Double.NaN);
  }

  private static String leaveOutEpsilons(ErasureEvaluation.FamilyResults f) {
    List<String> out = new ArrayList<>();
    for (FisherSetting s : f.settings()) {
      if (s.step() == ErasureStep.LEAVE_OUT) {
        out.add(s.kind() + " " + Targets.g3(Plots.reported(f, s).get(0).epsilon()));
      }
    }
    return String.join(", ", out);
  }

  /** The grid ε with the largest mean γ over the trials (their curves are over {@code grid}). */
  static double bestEpsilon(List<TrialResult> t, double[] grid) {
    double[] m = Plots.mean(t.stream().map(TrialResult::gammaCurve).toList());
    int best = 0;
    for (int i = 1; i < m.length; i++) {
      if (m[i] > m[best]) {
        best = i;
      }
    }
    return grid[best];
  }

  /** The reported removals' last group: "100%" or "whole class" (the hardest removal). */
  private static String largestGroup(ErasureEvaluation.FamilyResults f) {
    Set<String> g = new LinkedHashSet<>();
    for (TrialResult t : Plots.reported(f, f.settings().get(0))) {
      g.add(t.removal().group());
    }
    return f.key().startsWith("mlp") ? g.iterator().next() : new ArrayList<>(g).get(g.size() - 1);
  }
}
