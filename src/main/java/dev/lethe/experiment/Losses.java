package dev.lethe.experiment;

/** Numerically stable link functions and losses shared by the experiments. */
final class Losses {
  private Losses() {}

  static double sigmoid(double z) {
    return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
  }

  /** Binary cross-entropy of logit z against target y in {0, 1}: log(1 + e^z) − y·z. */
  static double bce(double z, double y) {
    return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - y * z;
  }

  /** Softmax of {@code z[from, from + c)} into {@code p[from, from + c)}. */
  static void softmax(double[] z, int from, int c, double[] p) {
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < c; j++) {
      max = Math.max(max, z[from + j]);
    }
    double sum = 0;
    for (int j = 0; j < c; j++) {
      p[from + j] = Math.exp(z[from + j] - max);
      sum += p[from + j];
    }
    for (int j = 0; j < c; j++) {
      p[from + j] /= sum;
    }
  }
}
