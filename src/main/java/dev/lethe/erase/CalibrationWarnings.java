package dev.lethe.erase;

import java.util.ArrayList;
import java.util.List;

/**
 * What a CalibrateScale curve says about the criterion's own reliability: the cases in which
 * "the erased samples' loss matches the holdout's" cannot place ε, so the user is told instead
 * of being handed a number that looks as good as any other (DESIGN.md, "ε").
 *
 * <ul>
 *   <li><b>Sub-population</b>: by the chosen ε the holdout's mean loss has risen by at least
 *       {@link #SUBPOPULATION_RATIO} of the erased samples' rise. The holdout is then forgotten
 *       with S: S is (nearly) all of a class or attribute the holdout belongs to, the two curves
 *       run together and matching them picks an arbitrary ε. Measured in the held-out
 *       evaluation (docs/evaluation-heldout.md, the run's log): removals of 10–50 % of a class or
 *       attribute give 0.07–0.75, whole classes and 100 % attribute removals 0.87–0.97.</li>
 *   <li><b>Not memorised</b>: at the smallest ε the erased samples' mean loss is already at or
 *       above the holdout's. The model has not fitted S more closely than unseen data (stopped
 *       early, or S is harder than the holdout): the smallest ε is chosen, and ε = 1 would push
 *       S's loss beyond what retraining gives.</li>
 *   <li><b>No crossing</b>: within the guard the erased loss stays below the holdout's at every ε
 *       tried; the closest point is chosen, at the grid's or the guard's edge.</li>
 * </ul>
 *
 * <p>Stateless; the curve is ascending in ε and its losses are mean data losses.
 */
public final class CalibrationWarnings {
  /** The holdout's loss rise, as a fraction of the erased samples', that flags a sub-population. */
  public static final double SUBPOPULATION_RATIO = 0.85;

  private CalibrationWarnings() {}

  /**
   * @param curve every ε tried, ascending (at least one point)
   * @param best the chosen point, one of {@code curve}
   * @param admissible whether each point passed the retained-accuracy guard, as {@code curve}
   * @return the warnings, each a sentence for a user; empty when the criterion is reliable here
   */
  public static List<String> of(List<ScaleCalibration.Point> curve, ScaleCalibration.Point best,
      boolean[] admissible) {
    List<String> out = new ArrayList<>();
    ScaleCalibration.Point first = curve.get(0);
    if (first.erasedMeanLoss() >= first.holdoutMeanLoss()) {
      out.add(String.format("not memorised: at ε = %.3g the erased samples' mean loss %.4g is"
          + " already at or above the holdout's %.4g, so the model has not fitted them more"
          + " closely than unseen data (stopped early, or they are harder than the holdout);"
          + " the smallest ε is chosen and an erase at ε = 1 would push their loss beyond what"
          + " retraining gives", first.scale(), first.erasedMeanLoss(), first.holdoutMeanLoss()));
      return out;
    }
    double erasedRise = best.erasedMeanLoss() - first.erasedMeanLoss();
    double holdoutRise = best.holdoutMeanLoss() - first.holdoutMeanLoss();
    if (erasedRise > 0 && holdoutRise >= SUBPOPULATION_RATIO * erasedRise) {
      out.add(String.format("sub-population: by ε = %.3g the holdout's mean loss rose %.4g,"
          + " %.0f%% of the erased samples' rise %.4g, so the holdout is forgotten with them"
          + " (they look like all of a class or attribute the holdout belongs to); matching the"
          + " two losses cannot tell how far to go there: place ε with a retrained reference"
          + " (lethe evaluate, lethe calibrate --from) or keep the model's scale",
          best.scale(), holdoutRise, 100 * holdoutRise / erasedRise, erasedRise));
    }
    boolean above = false;
    for (int i = 0; i < curve.size(); i++) {
      if (admissible[i]) {
        ScaleCalibration.Point p = curve.get(i);
        above |= p.erasedMeanLoss() >= p.holdoutMeanLoss();
      }
    }
    if (!above) {
      out.add(String.format("no crossing: within the guard the erased samples' mean loss stays"
          + " below the holdout's at every ε tried (up to %.3g); the closest point is chosen",
          lastAdmissible(curve, admissible)));
    }
    return out;
  }

  private static double lastAdmissible(List<ScaleCalibration.Point> curve, boolean[] admissible) {
    double last = Double.NaN;
    for (int i = 0; i < curve.size(); i++) {
      if (admissible[i]) {
        last = curve.get(i).scale();
      }
    }
    return last;
  }
}
