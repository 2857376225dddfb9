package dev.lethe.erase;

import dev.lethe.core.ErasureStep;
import dev.lethe.core.LetheException;
import dev.lethe.core.Samples;
import dev.lethe.eval.Evaluation;
import dev.lethe.fisher.ModelView;
import dev.lethe.store.EraseSession;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Chooses ε, the scale of the erase step, without retraining (DESIGN.md, "ε"). After a good
 * erase the erased samples look like data the model never saw, so they are compared with
 * held-out samples of the same distribution: since θ̂(ε) = θ + ε·Δ with Δ = F⁻¹Σ∇l/(n−k) (or
 * F₋S⁻¹ for the leave-out step), one gradient sum and one solve give the whole curve, and each
 * ε costs forward passes only.
 *
 * <p><b>Criterion</b>: among the ε of a log grid (31 values in [0.01, 10]) whose retained-data
 * accuracy falls by at most {@code maxAccuracyDrop} points against θ (the guard: on the
 * request's retained samples, or on the holdout when none are given), the one whose erased
 * samples' mean loss is closest to the holdout's mean loss at the same θ̂(ε). The curve also
 * reports the loss-threshold membership AUC between erased and held-out samples (0.5 = a
 * membership test is at chance), and {@link CalibrationWarnings} says when the criterion cannot
 * place ε on this curve (a sub-population, samples not memorised, no crossing). Nothing is erased; with {@code apply} the chosen ε is written
 * into the spec as SetScale does.
 *
 * <p>Holds the model's lock while it computes (like a dry run of an erase). Thread-safe.
 */
public record ScaleCalibration(Eraser eraser) {
  /** The grid: 10^(−2 + i/10), i = 0..30. */
  static final double[] GRID = grid();
  /** The guard's default, in accuracy points. */
  public static final double DEFAULT_MAX_ACCURACY_DROP = 1.0;

  private static double[] grid() {
    double[] g = new double[31];
    for (int i = 0; i < g.length; i++) {
      g[i] = Math.pow(10, -2 + i / 10.0);
    }
    g[20] = 1.0; // exactly
    return g;
  }

  /**
   * A calibration request.
   *
   * @param samples training samples to erase hypothetically (ids required)
   * @param holdout samples of the same distribution never trained on (labels required)
   * @param retained training samples that stay, for the guard; null = use the holdout
   * @param step null = the erase's default
   * @param maxAccuracyDrop the guard, points; 0 = {@link #DEFAULT_MAX_ACCURACY_DROP}
   */
  public record Request(String name, Samples samples, Samples holdout, Samples retained,
      ErasureStep step, boolean apply, double maxAccuracyDrop) {}

  /** One ε of the curve; losses are mean data losses (no L2 term). */
  public record Point(double scale, double erasedMeanLoss, double holdoutMeanLoss,
      double membershipAuc, double retainedAccuracyChange) {}

  /**
   * The calibration.
   *
   * @param scale the chosen ε
   * @param curve every ε tried, ascending
   * @param stepNote why the default step fell back to FULL_FISHER ("" when it did not)
   * @param reason how ε was chosen
   * @param warnings why the criterion may not place ε well on this curve
   *     ({@link CalibrationWarnings}); empty when it can
   */
  public record Result(double scale, List<Point> curve, ErasureStep step, String stepNote,
      boolean applied, long version, String reason, List<String> warnings) {
    public Result {
      warnings = List.copyOf(warnings);
    }
  }

  /**
   * @throws LetheException INVALID_ARGUMENT naming {@code samples}, {@code holdout},
   *     {@code retained} or {@code max_accuracy_drop}; NOT_FOUND; FAILED_PRECONDITION (no
   *     Fisher, a step the Fisher cannot give, no ε passing the guard)
   */
  public Result calibrate(Request r) {
    EraseCommand c = new EraseCommand(r.name(), "", r.samples(), true, 0, false, r.step());
    eraser.checkRequest(c);
    checkOthers(r);
    double maxDrop = r.maxAccuracyDrop() == 0 ? DEFAULT_MAX_ACCURACY_DROP : r.maxAccuracyDrop();
    Result result;
    try (EraseSession session = eraser.store().openErase(r.name(), "", r.samples().ids())) {
      ModelView model = session.view();
      Samples samples = model.check(r.samples(), true);
      Samples holdout = checked(model, "holdout", r.holdout());
      Samples retained = r.retained() == null ? null : checked(model, "retained", r.retained());
      Eraser.checkPreconditions(c, session);
      Eraser.Selection todo = Eraser.notErasedBefore(session, samples);
      long n = session.trainSize();
      if (todo.k() == 0) {
        throw LetheException.invalid("samples", "every id was erased before: nothing to calibrate on");
      }
      if (n - todo.k() < 1) {
        throw LetheException.precondition("model '" + r.name() + "' has train_size " + n
            + "; erasing " + todo.k() + " samples would leave none");
      }
      Eraser.Plan plan = eraser.plan(c, session, todo.k());
      double[] g = eraser.gradientSum(model, todo.samples());
      double[] u = plan.step() == ErasureStep.LEAVE_OUT
          ? eraser.fishers().leaveOut(r.name(), session.fisherId(), plan.fisherView(),
              todo.samples(), g, false).result().x()
          : eraser.apply(c, session, g);
      float[] theta = session.weights();
      Samples guard = retained != null ? retained : holdout;
      double accuracyBefore = model.evaluate(guard, null).accuracy();
      List<Point> curve = new ArrayList<>();
      for (double eps : GRID) {
        float[] w = new float[theta.length];
        double s = eps / (n - todo.k());
        for (int j = 0; j < w.length; j++) {
          w[j] = (float) (theta[j] + s * u[j]);
        }
        Evaluation erased = model.evaluate(todo.samples(), w);
        Evaluation held = model.evaluate(holdout, w);
        double accuracy = retained == null ? held.accuracy() : model.evaluate(retained, w).accuracy();
        curve.add(new Point(eps, erased.meanLoss(), held.meanLoss(),
            membershipAuc(erased.losses(), held.losses()), 100 * (accuracy - accuracyBefore)));
      }
      Point best = null;
      boolean[] admissible = new boolean[curve.size()];
      for (int i = 0; i < curve.size(); i++) {
        Point p = curve.get(i);
        admissible[i] = p.retainedAccuracyChange() >= -maxDrop && Double.isFinite(p.erasedMeanLoss());
        if (admissible[i] && (best == null || gap(p) < gap(best))) {
          best = p;
        }
      }
      if (best == null) {
        throw LetheException.precondition(String.format("no scale in [%.2g, %.2g] keeps the %s"
            + " accuracy within %.2f points of θ's (max_accuracy_drop); nothing changed",
            GRID[0], GRID[GRID.length - 1], retained != null ? "retained" : "holdout", maxDrop));
      }
      String reason = String.format("the erased samples' mean loss %.4g is closest to the"
          + " holdout's %.4g at ε = %.4g (membership AUC %.3f) among the ε whose %s accuracy"
          + " falls by at most %.2f points", best.erasedMeanLoss(), best.holdoutMeanLoss(),
          best.scale(), best.membershipAuc(), retained != null ? "retained" : "holdout", maxDrop);
      result = new Result(best.scale(), curve, plan.step(), plan.note(), false, session.version(),
          reason, CalibrationWarnings.of(curve, best, admissible));
    }
    if (r.apply()) {
      eraser.store().setScale(r.name(), result.scale());
      result = new Result(result.scale(), result.curve(), result.step(), result.stepNote(), true,
          result.version(), result.reason(), result.warnings());
    }
    return result;
  }

  private static double gap(Point p) {
    return Math.abs(p.erasedMeanLoss() - p.holdoutMeanLoss());
  }

  private void checkOthers(Request r) {
    if (r.holdout() == null || r.holdout().inputs().isEmpty() || r.holdout().size() == 0) {
      throw LetheException.invalid("holdout", "required: samples never trained on, with labels");
    }
    for (var e : new Object[][] {{"holdout", r.holdout()}, {"retained", r.retained()}}) {
      Samples s = (Samples) e[1];
      if (s != null && s.size() > eraser.config().maxSamples()) {
        throw LetheException.tooLarge((String) e[0], s.size() + " samples exceed the limit of "
            + eraser.config().maxSamples() + " per request (--max-erase-samples)");
      }
    }
    if (r.retained() != null && r.retained().size() == 0) {
      throw LetheException.invalid("retained", "empty: leave it out to guard on the holdout");
    }
    double d = r.maxAccuracyDrop();
    if (!(d >= 0 && d <= 100)) {
      throw LetheException.invalid("max_accuracy_drop", "must be in [0, 100] points (0 = "
          + DEFAULT_MAX_ACCURACY_DROP + "), got " + d);
    }
  }

  /** The model's check of a batch, its errors naming {@code field} instead of "samples". */
  private static Samples checked(ModelView model, String field, Samples s) {
    try {
      return model.check(s, true);
    } catch (LetheException e) {
      String m = e.getMessage();
      throw new LetheException(e.kind(), m.startsWith("samples") ? field + m.substring(7) : m, e);
    }
  }

  /**
   * The loss-threshold membership test's ROC-AUC: the probability that an erased (member)
   * sample's loss is below a held-out one's, ties counting half (Mann–Whitney U by ranks).
   */
  public static double membershipAuc(float[] members, float[] others) {
    int m = members.length;
    int o = others.length;
    double[][] all = new double[m + o][];
    for (int i = 0; i < m; i++) {
      all[i] = new double[] {members[i], 1};
    }
    for (int i = 0; i < o; i++) {
      all[m + i] = new double[] {others[i], 0};
    }
    Arrays.sort(all, (a, b) -> Double.compare(b[0], a[0])); // descending loss: members rank low
    double rankSum = 0;
    for (int i = 0; i < all.length; ) {
      int j = i;
      while (j < all.length && all[j][0] == all[i][0]) {
        j++;
      }
      double rank = (i + 1 + j) / 2.0;
      for (int t = i; t < j; t++) {
        if (all[t][1] == 1) {
          rankSum += rank;
        }
      }
      i = j;
    }
    return (rankSum - m * (m + 1) / 2.0) / ((double) m * o);
  }
}
