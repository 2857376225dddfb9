package dev.lethe.onnx;

import dev.lethe.core.LossFunction;
import dev.lethe.core.DenseTensor;

/** Reference per-sample losses in double, written directly from their definitions. */
final class Losses {
  private Losses() {}

  static double loss(LossFunction loss, double[] z, DenseTensor labels, int sample) {
    int c = z.length;
    switch (loss) {
      case SOFTMAX_CROSS_ENTROPY: {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : z) {
          max = Math.max(max, v);
        }
        double sum = 0;
        for (double v : z) {
          sum += Math.exp(v - max);
        }
        return max + Math.log(sum) - z[(int) labels.longs()[sample]];
      }
      case SIGMOID_BINARY_CROSS_ENTROPY: {
        double l = 0;
        for (int j = 0; j < c; j++) {
          double y = labels.floats()[sample * c + j];
          double p = 1 / (1 + Math.exp(-z[j]));
          l -= y * Math.log(p) + (1 - y) * Math.log(1 - p);
        }
        return l;
      }
      case MEAN_SQUARED_ERROR: {
        double l = 0;
        for (int j = 0; j < c; j++) {
          double d = z[j] - labels.floats()[sample * c + j];
          l += d * d;
        }
        return l / c;
      }
      default:
        throw new IllegalArgumentException(loss.name());
    }
  }
}
