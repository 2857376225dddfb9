package dev.lethe.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;

class NewtonMethodTest {
  private static final double TOLERANCE = 1e-12;

  /** f(θ) = ½ θᵀAθ − cᵀθ with a fixed A (symmetric); minimiser A⁻¹c when A is positive definite. */
  private static SmoothObjective quadratic(double[][] a, double[] c) {
    return new SmoothObjective() {
      @Override
      public int dimension() {
        return c.length;
      }

      @Override
      public double value(double[] t) {
        double v = 0;
        for (int i = 0; i < c.length; i++) {
          for (int j = 0; j < c.length; j++) {
            v += 0.5 * t[i] * a[i][j] * t[j];
          }
          v -= c[i] * t[i];
        }
        return v;
      }

      @Override
      public double[] gradient(double[] t) {
        double[] g = new double[c.length];
        for (int i = 0; i < c.length; i++) {
          for (int j = 0; j < c.length; j++) {
            g[i] += a[i][j] * t[j];
          }
          g[i] -= c[i];
        }
        return g;
      }

      @Override
      public DMatrixRMaj hessian(double[] t) {
        return new DMatrixRMaj(a);
      }
    };
  }

  @Test
  void solvesAQuadraticInOneStep() {
    // A = [[4, 1], [1, 3]], c = (1, 2): θ* = A⁻¹c = (1/11, 7/11)
    NewtonMethod.Result r = NewtonMethod.minimize(
        quadratic(new double[][] {{4, 1}, {1, 3}}, new double[] {1, 2}), new double[2],
        TOLERANCE, 10);
    assertArrayEquals(new double[] {1.0 / 11, 7.0 / 11}, r.theta(), 1e-15);
    assertEquals(1, r.iterations());
  }

  @Test
  void indefiniteHessianIsReported() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> NewtonMethod.minimize(quadratic(new double[][] {{1, 0}, {0, -1}},
            new double[] {1, 1}), new double[2], TOLERANCE, 10));
    assertTrue(e.getMessage().contains("not positive definite"), e.getMessage());
  }

  @Test
  void iterationLimitIsReported() {
    // a smooth convex function Newton needs several steps for: Σ log cosh(θ_i − 3)
    SmoothObjective logCosh = new SmoothObjective() {
      @Override
      public int dimension() {
        return 1;
      }

      @Override
      public double value(double[] t) {
        return Math.log(Math.cosh(t[0] - 3));
      }

      @Override
      public double[] gradient(double[] t) {
        return new double[] {Math.tanh(t[0] - 3)};
      }

      @Override
      public DMatrixRMaj hessian(double[] t) {
        double s = 1 / Math.cosh(t[0] - 3);
        return new DMatrixRMaj(new double[][] {{s * s}});
      }
    };
    assertThrows(IllegalStateException.class,
        () -> NewtonMethod.minimize(logCosh, new double[1], TOLERANCE, 1));
    NewtonMethod.Result r = NewtonMethod.minimize(logCosh, new double[1], TOLERANCE, 50);
    assertEquals(3, r.theta()[0], 1e-12);
  }
}
