package dev.lethe.demo;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.LinearSolverFactory_DDRM;
import org.ejml.interfaces.linsol.LinearSolverDense;

/**
 * Newton's method with a backtracking (Armijo) line search, for smooth strictly convex objectives
 * such as L2-regularised logistic regression. Each step solves H·Δ = −g by Cholesky (EJML); a
 * Hessian that is not positive definite, a step that is not a descent direction or a line search
 * that cannot decrease the objective is reported as an {@link IllegalStateException}, never
 * silently returned. Stateless; thread-safe if the objective is.
 */
public final class NewtonMethod {
  /** Armijo sufficient-decrease constant. */
  private static final double ARMIJO = 1e-4;
  private static final double SMALLEST_STEP = 1e-10;
  /** Relative size of rounding errors in an objective value summed over many terms. */
  private static final double ROUNDING = 1e-13;

  private NewtonMethod() {}

  /**
   * The minimiser found.
   *
   * @param theta the parameters (owned by the caller)
   * @param value the objective at theta
   * @param gradientNorm Euclidean norm of the gradient at theta
   * @param iterations Newton steps taken
   */
  public record Result(double[] theta, double value, double gradientNorm, int iterations) {}

  /**
   * Minimises {@code f} from {@code start} (not modified) until |∇f| &lt; tolerance·max(1, |θ|).
   *
   * @throws IllegalStateException on a numerical failure or after {@code maxIterations} steps
   */
  public static Result minimize(SmoothObjective f, double[] start, double tolerance,
      int maxIterations) {
    int n = f.dimension();
    if (start.length != n) {
      throw new IllegalArgumentException("start has length " + start.length + ", objective "
          + "dimension is " + n);
    }
    double[] theta = start.clone();
    double value = f.value(theta);
    LinearSolverDense<DMatrixRMaj> cholesky = LinearSolverFactory_DDRM.chol(n);
    DMatrixRMaj step = new DMatrixRMaj(n, 1);
    DMatrixRMaj negGradient = new DMatrixRMaj(n, 1);
    double[] trial = new double[n];
    for (int iteration = 0; ; iteration++) {
      double[] g = f.gradient(theta);
      double gradientNorm = norm(g);
      if (!Double.isFinite(value) || !Double.isFinite(gradientNorm)) {
        throw new IllegalStateException("objective or gradient not finite at Newton iteration "
            + iteration + " (value " + value + ", |g| " + gradientNorm + ")");
      }
      if (gradientNorm < tolerance * Math.max(1, norm(theta))) {
        return new Result(theta, value, gradientNorm, iteration);
      }
      if (iteration == maxIterations) {
        throw new IllegalStateException("Newton's method did not converge in " + maxIterations
            + " iterations (|g| = " + gradientNorm + ")");
      }
      if (!cholesky.setA(f.hessian(theta))) {
        throw new IllegalStateException("Hessian not positive definite at Newton iteration "
            + iteration);
      }
      for (int i = 0; i < n; i++) {
        negGradient.data[i] = -g[i];
      }
      cholesky.solve(negGradient, step);
      double slope = 0;
      for (int i = 0; i < n; i++) {
        slope += g[i] * step.data[i];
      }
      if (!(slope < 0)) {
        throw new IllegalStateException("Newton step is not a descent direction at iteration "
            + iteration + " (slope " + slope + ")");
      }
      double t = 1;
      double trialValue;
      // Near the optimum the predicted decrease can fall below what f's rounding resolves; there
      // the full Newton step is trusted (quadratic convergence) instead of an Armijo test on noise.
      boolean resolvable = -slope > ROUNDING * Math.max(1, Math.abs(value));
      while (true) {
        for (int i = 0; i < n; i++) {
          trial[i] = theta[i] + t * step.data[i];
        }
        trialValue = f.value(trial);
        if (!resolvable || trialValue <= value + ARMIJO * t * slope) {
          break;
        }
        t *= 0.5;
        if (t < SMALLEST_STEP) {
          throw new IllegalStateException("line search failed at Newton iteration " + iteration
              + " (|g| = " + gradientNorm + ", value " + value + ")");
        }
      }
      System.arraycopy(trial, 0, theta, 0, n);
      value = trialValue;
    }
  }

  static double norm(double[] v) {
    double s = 0;
    for (double x : v) {
      s += x * x;
    }
    return Math.sqrt(s);
  }
}
