package dev.lethe.erase;

import dev.lethe.core.LetheException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The SSSE update θ̂ = θ + s·u with its guards: every entry finite, and |θ̂ − θ| at most
 * {@code maxRatio}·|θ|. Computed in double, stored float32 straight into a direct buffer: the
 * loss after the step and the new version's weights use it without a copy (each copy of a 46 MB
 * model took 15–20 ms).
 *
 * @param weights θ̂, [P] float32 little-endian in a direct buffer (position 0, limit 4·P); not
 *     written after construction
 * @param norm |θ̂ − θ|
 * @param thetaNorm |θ|
 * @param firstNotFinite the first entry of θ̂ that is not finite, or -1
 */
record Update(ByteBuffer weights, double norm, double thetaNorm, int firstNotFinite) {
  /** |θ̂ − θ| / |θ| (0 for θ = 0). */
  double ratio() {
    return thetaNorm > 0 ? norm / thetaNorm : 0;
  }


  /** Below this many entries the update runs on the caller's thread alone. */
  static final int PARALLEL_ENTRIES = 1 << 20;

  /**
   * @param theta θ, [P], not modified
   * @param u F⁻¹ Σ∇l_i, [P]
   * @param scale ε/(n − k)
   * @throws LetheException FAILED_PRECONDITION when a guard refuses the update (nothing changed)
   */
  static Update of(float[] theta, double[] u, double scale, double maxRatio) {
    Update update = unchecked(theta, u, scale);
    if (update.firstNotFinite >= 0) {
      throw LetheException.precondition("the update is not finite at parameter entry "
          + update.firstNotFinite + ": the Fisher may be ill-conditioned (raise the spec's "
          + "dampening); nothing changed");
    }
    double limit = maxRatio * update.thetaNorm();
    if (update.norm() > limit) {
      throw LetheException.precondition(String.format("the update's norm %.4g exceeds %.3g x |θ| "
          + "= %.4g (--max-update-ratio); check scale and dampening; nothing changed",
          update.norm(), maxRatio, limit));
    }
    return update;
  }

  /**
   * θ + s·u without the guards (a dry run's preview of the step that does not run). Large
   * vectors are split into one range per core, run on the common fork-join pool and the
   * caller; the ranges' sums are added in range order, so the result does not depend on the
   * threads.
   */
  static Update unchecked(float[] theta, double[] u, double scale) {
    ByteBuffer updated = ByteBuffer.allocateDirect(theta.length * Float.BYTES)
        .order(ByteOrder.LITTLE_ENDIAN);
    int parts = theta.length < PARALLEL_ENTRIES ? 1
        : Math.max(1, Math.min(8, Runtime.getRuntime().availableProcessors()));
    double[][] sums = new double[parts][];
    long per = ((long) theta.length + parts - 1) / parts;
    java.util.stream.IntStream.range(0, parts).parallel().forEach(p -> sums[p] = range(theta, u,
        scale, updated, (int) (p * per), (int) Math.min(theta.length, (p + 1) * per)));
    double updateSq = 0;
    double thetaSq = 0;
    int bad = -1;
    for (double[] sum : sums) {
      updateSq += sum[0];
      thetaSq += sum[1];
      if (bad < 0 && sum[2] >= 0) {
        bad = (int) sum[2];
      }
    }
    return new Update(updated, Math.sqrt(updateSq), Math.sqrt(thetaSq), bad);
  }

  /** Entries [from, to) of θ + s·u into {@code updated}: {|s·u|², |θ|², first non-finite or -1}. */
  private static double[] range(float[] theta, double[] u, double scale, ByteBuffer updated,
      int from, int to) {
    // two partial sums each, so the additions of consecutive entries do not wait on each other
    double updateSq0 = 0;
    double updateSq1 = 0;
    double thetaSq0 = 0;
    double thetaSq1 = 0;
    int bad = -1;
    int j = from;
    for (; j + 1 < to; j += 2) {
      double d0 = scale * u[j];
      double d1 = scale * u[j + 1];
      updateSq0 += d0 * d0;
      updateSq1 += d1 * d1;
      thetaSq0 += (double) theta[j] * theta[j];
      thetaSq1 += (double) theta[j + 1] * theta[j + 1];
      float w0 = (float) (theta[j] + d0);
      float w1 = (float) (theta[j + 1] + d1);
      if (bad < 0 && !(Float.isFinite(w0) && Float.isFinite(w1))) {
        bad = Float.isFinite(w0) ? j + 1 : j;
      }
      updated.putFloat(j << 2, w0);
      updated.putFloat((j + 1) << 2, w1);
    }
    for (; j < to; j++) {
      double d = scale * u[j];
      updateSq0 += d * d;
      thetaSq0 += (double) theta[j] * theta[j];
      float w = (float) (theta[j] + d);
      if (bad < 0 && !Float.isFinite(w)) {
        bad = j;
      }
      updated.putFloat(j << 2, w);
    }
    return new double[] {updateSq0 + updateSq1, thetaSq0 + thetaSq1, bad};
  }
}
