package dev.lethe.torch;

import dev.lethe.core.DenseTensor;
import dev.lethe.core.LossFunction;

/**
 * The spec's per-sample loss and its gradient with respect to the logits, in closed form from
 * one sample's logits z [C] (the same three losses, and the same formulas, as the ONNX path's
 * emitted loss head): the backward pass through the module then starts from dL/dz.
 *
 * <ul>
 *   <li>SOFTMAX_CROSS_ENTROPY: L = logsumexp(z) - z_y, dL/dz = softmax(z) - onehot(y)
 *   <li>SIGMOID_BINARY_CROSS_ENTROPY: L = Σ_c relu(z_c) - z_c y_c + log(1 + e^-|z_c|),
 *       dL/dz = σ(z) - y
 *   <li>MEAN_SQUARED_ERROR: L = (1/C) Σ_c (z_c - y_c)², dL/dz = 2 (z - y) / C
 * </ul>
 *
 * <p>Computed in double, returned as float32 like the rest of the gradient path. Stateless.
 */
final class LossHead {
  private LossHead() {}

  /**
   * The loss of sample {@code i} with logits {@code z[off, off + c)}; writes dL/dz into
   * {@code gz[0, c)}.
   */
  static double lossAndGradient(LossFunction loss, float[] z, int off, int c, DenseTensor labels,
      int i, float[] gz) {
    switch (loss) {
      case SOFTMAX_CROSS_ENTROPY: {
        int y = (int) labels.longs()[i];
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < c; k++) {
          max = Math.max(max, z[off + k]);
        }
        double sum = 0;
        for (int k = 0; k < c; k++) {
          sum += Math.exp(z[off + k] - max);
        }
        double lse = max + Math.log(sum);
        for (int k = 0; k < c; k++) {
          gz[k] = (float) (Math.exp(z[off + k] - lse) - (k == y ? 1 : 0));
        }
        return lse - z[off + y];
      }
      case SIGMOID_BINARY_CROSS_ENTROPY: {
        double l = 0;
        for (int k = 0; k < c; k++) {
          double v = z[off + k];
          double t = labels.floats()[i * c + k];
          l += Math.max(v, 0) - v * t + Math.log1p(Math.exp(-Math.abs(v)));
          gz[k] = (float) (1 / (1 + Math.exp(-v)) - t);
        }
        return l;
      }
      case MEAN_SQUARED_ERROR: {
        double l = 0;
        for (int k = 0; k < c; k++) {
          double d = z[off + k] - labels.floats()[i * c + k];
          l += d * d;
          gz[k] = (float) (2 * d / c);
        }
        return l / c;
      }
      default:
        throw new IllegalArgumentException("unknown loss " + loss);
    }
  }
}
