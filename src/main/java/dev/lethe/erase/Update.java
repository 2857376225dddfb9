package dev.lethe.erase;

import dev.lethe.core.LetheException;

/**
 * The SSSE update θ̂ = θ + s·u with its guards: every entry finite, and |θ̂ − θ| at most
 * {@code maxRatio}·|θ|. Computed in double, stored float32.
 *
 * @param weights θ̂, [P]
 * @param norm |θ̂ − θ|
 * @param thetaNorm |θ|
 */
record Update(float[] weights, double norm, double thetaNorm) {
  /** |θ̂ − θ| / |θ| (0 for θ = 0). */
  double ratio() {
    return thetaNorm > 0 ? norm / thetaNorm : 0;
  }


  /**
   * @param theta θ, [P], not modified
   * @param u F⁻¹ Σ∇l_i, [P]
   * @param scale ε/(n − k)
   * @throws LetheException FAILED_PRECONDITION when a guard refuses the update (nothing changed)
   */
  static Update of(float[] theta, double[] u, double scale, double maxRatio) {
    Update update = unchecked(theta, u, scale);
    float[] w = update.weights();
    for (int j = 0; j < w.length; j++) {
      if (!Float.isFinite(w[j])) {
        throw LetheException.precondition("the update is not finite at parameter entry " + j
            + ": the Fisher may be ill-conditioned (raise the spec's dampening); nothing changed");
      }
    }
    double limit = maxRatio * update.thetaNorm();
    if (update.norm() > limit) {
      throw LetheException.precondition(String.format("the update's norm %.4g exceeds %.3g x |θ| "
          + "= %.4g (--max-update-ratio); check scale and dampening; nothing changed",
          update.norm(), maxRatio, limit));
    }
    return update;
  }

  /** θ + s·u without the guards (a dry run's preview of the step that does not run). */
  static Update unchecked(float[] theta, double[] u, double scale) {
    // two partial sums each, so the additions of consecutive entries do not wait on each other
    double updateSq0 = 0;
    double updateSq1 = 0;
    double thetaSq0 = 0;
    double thetaSq1 = 0;
    float[] updated = new float[theta.length];
    int j = 0;
    for (; j + 1 < theta.length; j += 2) {
      double d0 = scale * u[j];
      double d1 = scale * u[j + 1];
      updateSq0 += d0 * d0;
      updateSq1 += d1 * d1;
      thetaSq0 += (double) theta[j] * theta[j];
      thetaSq1 += (double) theta[j + 1] * theta[j + 1];
      updated[j] = (float) (theta[j] + d0);
      updated[j + 1] = (float) (theta[j + 1] + d1);
    }
    for (; j < theta.length; j++) {
      double d = scale * u[j];
      updateSq0 += d * d;
      thetaSq0 += (double) theta[j] * theta[j];
      updated[j] = (float) (theta[j] + d);
    }
    return new Update(updated, Math.sqrt(updateSq0 + updateSq1), Math.sqrt(thetaSq0 + thetaSq1));
  }
}
