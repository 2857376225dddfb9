package dev.lethe.experiment;

import dev.lethe.eval.Metrics;

/**
 * The erasure-quality measures of the evaluation (DESIGN.md, Evaluation), as pure functions of
 * weights and predictions. θ* is the trained model, θ̂ the erased one, θ*₋S the model retrained
 * without the forget set S.
 */
final class Quality {
  private Quality() {}

  /** Mean absolute difference of two equally long vectors (the D of the similarity ratio). */
  static double meanAbsoluteDifference(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += Math.abs(a[i] - b[i]);
    }
    return a.length == 0 ? 0 : s / a.length;
  }

  /**
   * γ_S = D(θ̂, θ*) / (D(θ̂, θ*) + D(θ̂, θ*₋S)) from the signatures of the three models on S: 0 when
   * θ̂ behaves as θ* does, 1 when it behaves as the retrained model, &gt; 0.5 when closer to the
   * retrained one. 0.5 when both distances are 0 (all three alike on S).
   */
  static double similarityRatio(double[] hat, double[] star, double[] retrained) {
    double toStar = meanAbsoluteDifference(hat, star);
    double toRetrained = meanAbsoluteDifference(hat, retrained);
    return toStar + toRetrained == 0 ? 0.5 : toStar / (toStar + toRetrained);
  }

  /**
   * Per-attribute ROC-AUC of sigmoid probabilities [k, A] against 0/1 labels on the same rows;
   * an attribute that does not vary on the rows (absent from S, or present in all of it) counts
   * AUC 0, as in the paper's γ.
   */
  static double[] attributeAucs(double[] probabilities, float[] labels, int k, int attributes) {
    double[] auc = new double[attributes];
    double[] scores = new double[k];
    boolean[] positive = new boolean[k];
    for (int a = 0; a < attributes; a++) {
      for (int i = 0; i < k; i++) {
        scores[i] = probabilities[i * attributes + a];
        positive[i] = labels[i * attributes + a] != 0;
      }
      double v = Metrics.rocAuc(scores, positive);
      auc[a] = Double.isNaN(v) ? 0 : v;
    }
    return auc;
  }

  /** |θ̂ − θ*₋S| / |θ* − θ*₋S| for θ̂ = θ* + ε·Δ, from the three vectors (not modified). */
  static double normalisedDistance(double[] star, double[] step, double epsilon, double[] retrained) {
    double num = 0;
    double den = 0;
    for (int i = 0; i < star.length; i++) {
      double gap = star[i] - retrained[i];
      double d = gap + epsilon * step[i];
      num += d * d;
      den += gap * gap;
    }
    return Math.sqrt(num / den);
  }

  /**
   * Loss-threshold membership inference: the ROC-AUC of −loss separating members (the forget
   * set's training losses) from non-members (unseen test samples). 0.5 = the attacker learns
   * nothing; a model retrained without S scores near 0.5 on S.
   */
  static double membershipAuc(double[] memberLosses, double[] nonMemberLosses) {
    int m = memberLosses.length;
    int u = nonMemberLosses.length;
    double[] scores = new double[m + u];
    boolean[] member = new boolean[m + u];
    for (int i = 0; i < m; i++) {
      scores[i] = -memberLosses[i];
      member[i] = true;
    }
    for (int i = 0; i < u; i++) {
      scores[m + i] = -nonMemberLosses[i];
    }
    return Metrics.rocAuc(scores, member);
  }

  /** θ* + ε·Δ as a new array. */
  static double[] step(double[] star, double[] delta, double epsilon) {
    double[] out = new double[star.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = star[i] + epsilon * delta[i];
    }
    return out;
  }

  /** The log grid of ε: 10^from … 10^to in {@code points} steps. */
  static double[] logGrid(double from, double to, int points) {
    double[] g = new double[points];
    for (int i = 0; i < points; i++) {
      g[i] = Math.pow(10, from + (to - from) * i / (points - 1));
    }
    return g;
  }
}
