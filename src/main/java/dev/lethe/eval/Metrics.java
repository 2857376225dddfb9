package dev.lethe.eval;

import dev.lethe.core.LossFunction;
import dev.lethe.core.DenseTensor;
import java.util.Arrays;

/**
 * Losses, accuracy and ROC-AUC computed from logits. Numerically stable (log-sum-exp, softplus);
 * accumulates in double. Stateless; thread-safe.
 */
public final class Metrics {
  private Metrics() {}

  /**
   * Evaluates {@code logits} ([n, c] row-major, c = product of the per-sample dims) against
   * labels already checked for the loss.
   */
  public static Evaluation evaluate(LossFunction loss, float[] logits, int n, DenseTensor labels, long version) {
    int c = logits.length / n;
    float[] losses = new float[n];
    double accuracy;
    double[] auc;
    switch (loss) {
      case SOFTMAX_CROSS_ENTROPY -> {
        double[][] probs = new double[c][n];
        int correct = 0;
        for (int i = 0; i < n; i++) {
          int y = (int) labels.longs()[i];
          double max = Double.NEGATIVE_INFINITY;
          int argmax = 0;
          for (int k = 0; k < c; k++) {
            if (logits[i * c + k] > max) {
              max = logits[i * c + k];
              argmax = k;
            }
          }
          double sum = 0;
          for (int k = 0; k < c; k++) {
            sum += Math.exp(logits[i * c + k] - max);
          }
          double logSum = max + Math.log(sum);
          losses[i] = (float) (logSum - logits[i * c + y]);
          for (int k = 0; k < c; k++) {
            probs[k][i] = Math.exp(logits[i * c + k] - logSum);
          }
          correct += argmax == y ? 1 : 0;
        }
        accuracy = (double) correct / n;
        auc = new double[c];
        boolean[] positive = new boolean[n];
        for (int k = 0; k < c; k++) {
          for (int i = 0; i < n; i++) {
            positive[i] = labels.longs()[i] == k;
          }
          auc[k] = rocAuc(probs[k], positive);
        }
      }
      case SIGMOID_BINARY_CROSS_ENTROPY -> {
        float[] y = labels.floats();
        long correct = 0;
        for (int i = 0; i < n; i++) {
          double sum = 0;
          for (int k = 0; k < c; k++) {
            double z = logits[i * c + k];
            // BCE(z, y) = softplus(z) - y z, with softplus(z) = max(z, 0) + log1p(exp(-|z|))
            sum += Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - y[i * c + k] * z;
            correct += (z > 0) == (y[i * c + k] >= 0.5f) ? 1 : 0;
          }
          losses[i] = (float) sum;
        }
        accuracy = (double) correct / ((long) n * c);
        auc = new double[c];
        double[] scores = new double[n];
        boolean[] positive = new boolean[n];
        for (int k = 0; k < c; k++) {
          for (int i = 0; i < n; i++) {
            scores[i] = logits[i * c + k];
            positive[i] = y[i * c + k] >= 0.5f;
          }
          auc[k] = rocAuc(scores, positive);
        }
      }
      case MEAN_SQUARED_ERROR -> {
        float[] y = labels.floats();
        for (int i = 0; i < n; i++) {
          double sum = 0;
          for (int k = 0; k < c; k++) {
            double d = logits[i * c + k] - y[i * c + k];
            sum += d * d;
          }
          losses[i] = (float) (sum / c);
        }
        accuracy = Double.NaN;
        auc = new double[0];
      }
      default -> throw new IllegalArgumentException("loss " + loss);
    }
    double mean = 0;
    for (float l : losses) {
      mean += l;
    }
    return new Evaluation(losses, mean / n, accuracy, auc, version);
  }

  /**
   * ROC-AUC by the Mann–Whitney statistic with average ranks for ties; NaN when all samples are
   * positive or all negative.
   */
  public static double rocAuc(double[] scores, boolean[] positive) {
    int n = scores.length;
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> Double.compare(scores[a], scores[b]));
    double rankSumPositive = 0;
    long positives = 0;
    int i = 0;
    while (i < n) {
      int j = i;
      while (j + 1 < n && scores[order[j + 1]] == scores[order[i]]) {
        j++;
      }
      double averageRank = (i + j) / 2.0 + 1;
      for (int k = i; k <= j; k++) {
        if (positive[order[k]]) {
          rankSumPositive += averageRank;
          positives++;
        }
      }
      i = j + 1;
    }
    long negatives = n - positives;
    if (positives == 0 || negatives == 0) {
      return Double.NaN;
    }
    return (rankSumPositive - positives * (positives + 1) / 2.0) / ((double) positives * negatives);
  }
}
