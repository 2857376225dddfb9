package dev.lethe.fisher;

import dev.lethe.core.LetheException;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.LinearSolverFactory_DDRM;
import org.ejml.interfaces.linsol.LinearSolverDense;

/**
 * Inverts one symmetric positive-definite Fisher block by Cholesky (LAPACK DPOTRF + DPOTRI, or
 * EJML without a native LAPACK; see {@link Linalg}), or reports why not.
 */
public final class BlockInversion {
  /**
   * A block whose diagonal entry times the same entry of its computed inverse exceeds this is
   * numerically singular. For an SPD matrix F_ii·(F⁻¹)_ii lies in [1, cond(F)]; beyond
   * 1/(b·ε_double) the factorisation is rounding noise, not an inverse.
   */
  private static double singularLimit(int b) {
    return 1.0 / (Math.max(b, 1) * Math.ulp(1.0));
  }

  private BlockInversion() {}

  /**
   * Returns F⁻¹ of the symmetric b × b matrix {@code f} (row-major; modified: it is the
   * solver's work space). {@code what} names the block in the error.
   *
   * @throws LetheException INVALID_ARGUMENT naming the block and the dampening when F is not
   *     (numerically) positive definite
   */
  public static double[] invert(double[] f, int b, String what, double dampening) {
    return invert(f, b, what, dampening, Linalg.isNative());
  }

  /** As {@link #invert(double[], int, String, double)}, on the native LAPACK or on EJML. */
  static double[] invert(double[] f, int b, String what, double dampening, boolean nativeLapack) {
    double[] diag = new double[b];
    for (int i = 0; i < b; i++) {
      diag[i] = f[i * b + i];
    }
    double[] inverse;
    if (nativeLapack) {
      if (!Linalg.invertSpd(f, b)) {
        throw notPositiveDefinite(what, dampening);
      }
      inverse = f;
    } else {
      DMatrixRMaj fm = DMatrixRMaj.wrap(b, b, f);
      LinearSolverDense<DMatrixRMaj> chol = LinearSolverFactory_DDRM.chol(b);
      if (!chol.setA(fm)) {
        throw notPositiveDefinite(what, dampening);
      }
      DMatrixRMaj inv = new DMatrixRMaj(b, b);
      chol.invert(inv);
      inverse = inv.data;
    }
    double limit = singularLimit(b);
    for (int i = 0; i < b; i++) {
      double d = inverse[i * b + i];
      if (!(d > 0) || !(diag[i] * d <= limit)) {
        throw notPositiveDefinite(what, dampening);
      }
    }
    for (double x : inverse) {
      if (!Double.isFinite(x)) {
        throw notPositiveDefinite(what, dampening);
      }
    }
    return inverse;
  }

  static LetheException notPositiveDefinite(String what, double dampening) {
    return LetheException.invalid(
        "dampening",
        what + " is not positive definite (λ = " + dampening + "); use a larger dampening");
  }
}
