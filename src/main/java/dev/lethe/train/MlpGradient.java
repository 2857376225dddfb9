package dev.lethe.train;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.CommonOps_MT_DDRM;

/**
 * The mini-batch objective of an {@link Mlp} and its gradient by backpropagation, as dense matrix
 * products: for x [B, D] and labels y,
 *
 * <pre>
 *   f(θ) = 1/B Σ_r −log softmax(z_r)[y_r] + μ/2·|θ|²,   z = relu(x W1ᵀ + b1) W2ᵀ + b2
 *   ∂f/∂z = (softmax(z) − onehot(y)) / B
 *   ∇W2 = ∂zᵀ h,  ∇b2 = Σ_r ∂z_r,  ∂h = ∂z W2 ⊙ [h &gt; 0],  ∇W1 = ∂hᵀ x,  ∇b1 = Σ_r ∂h_r   (+ μθ)
 * </pre>
 *
 * The two products that touch D (x W1ᵀ and ∂hᵀ x, almost all of the work) use EJML's
 * multi-threaded kernels, which split output rows between threads: the result does not depend on
 * the thread count. Holds workspaces sized for one model and reused across calls (nothing is
 * allocated per step once the largest batch has been seen). Not thread-safe.
 */
public final class MlpGradient {
  private final double l2;
  private final DMatrixRMaj h = new DMatrixRMaj(1, 1);
  private final DMatrixRMaj z = new DMatrixRMaj(1, 1);
  private final DMatrixRMaj dh = new DMatrixRMaj(1, 1);

  /** @param l2 μ ≥ 0 */
  public MlpGradient(double l2) {
    if (!(l2 >= 0) || Double.isInfinite(l2)) {
      throw new IllegalArgumentException("l2 must be finite and >= 0, got " + l2);
    }
    this.l2 = l2;
  }

  /**
   * Returns f(θ) at {@code model}'s weights and writes ∇f into {@code gradient} (same shape as
   * {@code model}, overwritten). {@code model}, {@code x} [B, D] and {@code y} (its first B
   * entries, class indices) are not modified.
   *
   * @throws IllegalArgumentException on a shape mismatch or a label outside [0, C)
   */
  public double lossAndGradient(Mlp model, DMatrixRMaj x, int[] y, Mlp gradient) {
    int b = x.numRows;
    int c = model.classes();
    if (x.numCols != model.inputs() || y.length < b || b < 1) {
      throw new IllegalArgumentException("x is [" + b + ", " + x.numCols + "] with " + y.length
          + " labels; the model takes [B >= 1, " + model.inputs() + "] and B labels");
    }
    if (gradient.inputs() != model.inputs() || gradient.hidden() != model.hidden()
        || gradient.classes() != c) {
      throw new IllegalArgumentException("gradient has another shape than the model");
    }
    h.reshape(b, model.hidden());
    CommonOps_MT_DDRM.multTransB(x, model.w1(), h);
    Mlp.addRowAndRelu(h, model.b1(), true);
    z.reshape(b, c);
    CommonOps_DDRM.multTransB(h, model.w2(), z);
    Mlp.addRowAndRelu(z, model.b2(), false);

    // z becomes ∂f/∂z in place: softmax minus one-hot, over B.
    double loss = 0;
    double[] zd = z.data;
    for (int r = 0; r < b; r++) {
      int label = y[r];
      if (label < 0 || label >= c) {
        throw new IllegalArgumentException("label " + label + " of row " + r + " not in [0, " + c + ")");
      }
      int base = r * c;
      double max = Double.NEGATIVE_INFINITY;
      for (int j = 0; j < c; j++) {
        max = Math.max(max, zd[base + j]);
      }
      double sum = 0;
      for (int j = 0; j < c; j++) {
        sum += Math.exp(zd[base + j] - max);
      }
      double logSum = max + Math.log(sum);
      loss += logSum - zd[base + label];
      for (int j = 0; j < c; j++) {
        zd[base + j] = Math.exp(zd[base + j] - logSum) / b;
      }
      zd[base + label] -= 1.0 / b;
    }
    loss /= b;

    CommonOps_DDRM.multTransA(z, h, gradient.w2());
    CommonOps_DDRM.sumCols(z, gradient.b2());
    dh.reshape(b, model.hidden());
    CommonOps_DDRM.mult(z, model.w2(), dh);
    double[] hd = h.data;
    double[] dhd = dh.data;
    for (int i = 0; i < b * model.hidden(); i++) {
      if (hd[i] <= 0) {
        dhd[i] = 0;
      }
    }
    CommonOps_MT_DDRM.multTransA(dh, x, gradient.w1());
    CommonOps_DDRM.sumCols(dh, gradient.b1());

    if (l2 > 0) {
      double sq = 0;
      var params = model.parameters();
      var grads = gradient.parameters();
      for (int k = 0; k < params.length; k++) {
        double[] p = params[k].data;
        double[] g = grads[k].data;
        int len = params[k].getNumElements();
        for (int i = 0; i < len; i++) {
          sq += p[i] * p[i];
          g[i] += l2 * p[i];
        }
      }
      loss += l2 / 2 * sq;
    }
    return loss;
  }
}
