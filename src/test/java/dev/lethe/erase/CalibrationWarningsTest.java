package dev.lethe.erase;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link CalibrationWarnings} on curves CalibrateScale returned in the held-out evaluation
 * (docs/evaluation-heldout.md; "ε:erased/holdout mean loss/AUC/retained Δ points", as the run's
 * log prints them), and on small curves at the thresholds.
 */
class CalibrationWarningsTest {
  /** convex TRUE B=2048 m=1 LEAVE_OUT attribute 0, 100% (the held-out evaluation's log). */
  private static final String WHOLE_ATTRIBUTE =
      "0.0100:2.098/2.312/0.54/+0.0 0.0126:2.101/2.315/0.54/+0.0 "
      + "0.0158:2.106/2.320/0.54/+0.0 0.0200:2.112/2.326/0.54/+0.0 "
      + "0.0251:2.120/2.334/0.54/+0.0 0.0316:2.130/2.343/0.54/+0.0 "
      + "0.0398:2.143/2.355/0.54/+0.0 0.0501:2.159/2.371/0.54/+0.1 "
      + "0.0631:2.180/2.391/0.54/+0.1 0.0794:2.207/2.417/0.54/+0.2 "
      + "0.100:2.242/2.452/0.54/+0.2 0.126:2.288/2.496/0.54/+0.3 "
      + "0.158:2.349/2.556/0.54/+0.3 0.200:2.431/2.635/0.54/+0.3 "
      + "0.251:2.544/2.744/0.54/+0.4 0.316:2.699/2.895/0.54/+0.5 "
      + "0.398:2.919/3.107/0.54/+0.4 0.501:3.236/3.414/0.54/+0.5 "
      + "0.631:3.701/3.861/0.54/+0.6 0.794:4.390/4.521/0.53/+0.7 "
      + "1.00:5.405/5.485/0.52/+0.8 1.26:6.863/6.860/0.50/+0.8 "
      + "1.58:8.882/8.756/0.49/+0.7 2.00:11.618/11.319/0.48/+0.6 "
      + "2.51:15.281/14.743/0.48/+0.5 3.16:20.131/19.273/0.47/+0.1 "
      + "3.98:26.487/25.214/0.47/-0.3 5.01:34.748/32.948/0.47/-0.9 "
      + "6.31:45.433/42.961/0.47/-2.1 7.94:59.212/55.884/0.47/-3.9 "
      + "10.0:76.930/72.507/0.47/-6.5";

  /** mlp-early TRUE B=256 m=1 LEAVE_OUT class 0, all samples (the held-out evaluation's log). */
  private static final String WHOLE_CLASS =
      "0.0100:0.612/0.696/0.54/+0.0 0.0126:0.648/0.732/0.54/-0.1 "
      + "0.0158:0.696/0.781/0.54/-0.3 0.0200:0.760/0.847/0.54/-0.1 "
      + "0.0251:0.850/0.937/0.54/+0.2 0.0316:0.975/1.064/0.54/+1.2 "
      + "0.0398:1.155/1.243/0.54/+1.3 0.0501:1.414/1.499/0.54/+1.6 "
      + "0.0631:1.784/1.858/0.54/+1.6 0.0794:2.286/2.338/0.53/+1.0 "
      + "0.100:2.907/2.918/0.52/+0.9 0.126:3.601/3.564/0.50/+0.7 "
      + "0.158:4.327/4.244/0.49/+0.3 0.200:5.068/4.946/0.48/+0.1 "
      + "0.251:5.805/5.642/0.48/-0.8 0.316:6.417/6.225/0.48/-1.0 "
      + "0.398:6.697/6.476/0.48/-1.6 0.501:6.329/6.102/0.49/-2.4 "
      + "0.631:4.873/4.673/0.50/-3.5 0.794:2.479/2.283/0.52/-3.6 "
      + "1.00:1.166/0.927/0.52/-7.6 1.26:0.484/0.262/0.52/-21.1 "
      + "1.58:0.218/0.077/0.51/-37.1 2.00:0.120/0.023/0.51/-52.9 "
      + "2.51:0.079/0.004/0.51/-70.7 3.16:0.021/0.000/0.51/-78.0 "
      + "3.98:0.012/0.000/0.50/-81.1 5.01:0.000/0.000/0.50/-82.8 "
      + "6.31:0.000/0.000/0.50/-83.2 7.94:0.000/0.000/0.50/-83.5 "
      + "10.0:0.000/0.000/0.50/-83.6";

  /** mlp-early TRUE B=256 m=1 LEAVE_OUT class 0, 10% (the held-out evaluation's log). */
  private static final String TENTH_OF_CLASS =
      "0.0100:0.729/0.778/0.51/-0.2 0.0126:0.734/0.781/0.51/-0.2 "
      + "0.0158:0.740/0.785/0.51/-0.2 0.0200:0.748/0.791/0.51/-0.3 "
      + "0.0251:0.759/0.797/0.51/-0.2 0.0316:0.772/0.805/0.51/-0.1 "
      + "0.0398:0.789/0.816/0.51/-0.2 0.0501:0.810/0.830/0.51/-0.2 "
      + "0.0631:0.838/0.847/0.51/-0.2 0.0794:0.872/0.870/0.51/-0.1 "
      + "0.100:0.917/0.899/0.50/-0.2 0.126:0.975/0.937/0.51/-0.1 "
      + "0.158:1.049/0.987/0.50/+0.0 0.200:1.147/1.054/0.50/-0.1 "
      + "0.251:1.277/1.145/0.49/+0.1 0.316:1.454/1.268/0.48/+0.0 "
      + "0.398:1.689/1.437/0.47/-0.1 0.501:2.011/1.672/0.45/-0.5 "
      + "0.631:2.452/2.004/0.43/-2.2 0.794:3.048/2.474/0.42/-3.7 "
      + "1.00:3.818/3.112/0.41/-5.1 1.26:4.776/3.940/0.40/-5.6 "
      + "1.58:5.918/4.957/0.40/-6.1 2.00:7.261/6.144/0.39/-6.0 "
      + "2.51:8.836/7.490/0.39/-6.0 3.16:10.754/9.058/0.38/-6.3 "
      + "3.98:13.103/10.989/0.36/-6.8 5.01:16.063/13.435/0.36/-7.3 "
      + "6.31:19.845/16.550/0.35/-8.8 7.94:24.688/20.573/0.35/-10.7 "
      + "10.0:30.979/25.762/0.35/-14.3";

  @Test
  void wholeClassesAndWholeAttributesAreFlaggedAsSubPopulationsAndATenthOfAClassIsNot() {
    List<String> whole = warnings(WHOLE_CLASS, 0.1, 1.0);
    assertEquals(1, whole.size(), whole.toString());
    assertTrue(whole.get(0).startsWith("sub-population: by ε = 0.100 "), whole.get(0));
    // (2.918 - 0.696) / (2.907 - 0.612) = 97 %
    assertTrue(whole.get(0).contains("97% of the erased samples' rise"), whole.get(0));
    List<String> attribute = warnings(WHOLE_ATTRIBUTE, 1.26, 1.0);
    assertEquals(1, attribute.size(), attribute.toString());
    assertTrue(attribute.get(0).startsWith("sub-population"), attribute.get(0));
    assertEquals(List.of(), warnings(TENTH_OF_CLASS, 0.0794, 1.0),
        "a tenth of a class: the holdout's loss rose 64 % of the erased samples' and the losses cross");
  }

  @Test
  void theSubPopulationThresholdIsTheStatedRatio() {
    double at = CalibrationWarnings.SUBPOPULATION_RATIO;
    // erased 1 -> 2, holdout 1.1 -> 1.1 + ratio (the losses cross, so only the ratio can warn)
    assertEquals(1, warnings(curve(1.0, 2.0, 1.1, 1.1 + at + 1e-9), 0.1, 1.0).size());
    assertEquals(0, warnings(curve(1.0, 2.0, 1.1, 1.1 + at - 0.01), 0.1, 1.0).size());
  }

  @Test
  void samplesNotFittedMoreCloselyThanTheHoldoutAreFlaggedAsNotMemorised() {
    List<String> w = warnings(curve(0.50, 0.60, 0.45, 0.55), 0.01, 1.0);
    assertEquals(1, w.size(), w.toString());
    assertTrue(w.get(0).startsWith("not memorised: at ε = 0.0100 the erased samples' mean loss"
        + " 0.5000 is already at or above the holdout's 0.4500"), w.get(0));
  }

  @Test
  void aGuardThatStopsTheCurveBeforeTheLossesMeetIsFlagged() {
    // a guard that admits only ε ≤ 0.0501 on this curve, where erased < holdout throughout
    List<String> w = warnings(TENTH_OF_CLASS, 0.0501, 1.0, 0.0501);
    assertEquals(List.of("no crossing: within the guard the erased samples' mean loss stays below"
        + " the holdout's at every ε tried (up to 0.0501); the closest point is chosen"), w);
  }

  /** The warnings for a logged curve, the chosen point and the guard (points). */
  private static List<String> warnings(String logged, double chosen, double maxDrop) {
    return warnings(logged, chosen, maxDrop, Double.POSITIVE_INFINITY);
  }

  /** As above, points beyond {@code maxScale} also refused by the guard. */
  private static List<String> warnings(String logged, double chosen, double maxDrop,
      double maxScale) {
    List<ScaleCalibration.Point> curve = new ArrayList<>();
    for (String point : logged.trim().split(" +")) {
      String[] f = point.split("[:/]");
      curve.add(new ScaleCalibration.Point(Double.parseDouble(f[0]), Double.parseDouble(f[1]),
          Double.parseDouble(f[2]), Double.parseDouble(f[3]), Double.parseDouble(f[4])));
    }
    boolean[] admissible = new boolean[curve.size()];
    ScaleCalibration.Point best = null;
    for (int i = 0; i < curve.size(); i++) {
      admissible[i] = curve.get(i).retainedAccuracyChange() >= -maxDrop
          && curve.get(i).scale() <= maxScale;
      if (Math.abs(curve.get(i).scale() - chosen) < 1e-3 * chosen) {
        best = curve.get(i);
      }
    }
    assertTrue(best != null && admissible[curve.indexOf(best)], "chosen " + chosen + " admissible");
    return CalibrationWarnings.of(curve, best, admissible);
  }

  /** Two points, ε = 0.01 and 0.1: erased and holdout losses at each. */
  private static String curve(double erased0, double erased1, double holdout0, double holdout1) {
    return String.join(" ", Arrays.asList(
        "0.01:" + erased0 + "/" + holdout0 + "/0.5/+0.0", "0.1:" + erased1 + "/" + holdout1 + "/0.5/+0.0"));
  }
}
