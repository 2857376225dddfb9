package dev.lethe.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;

/**
 * The objective's derivatives against finite differences, on a small random problem with zero
 * features (the sparse path) and a class no sample has.
 */
class SoftmaxRegressionTest {
  private static final long SEED = 7L;
  private static final int N = 40;
  private static final int D = 5;
  private static final int K = 4;
  private static final double MU = 0.01;
  /** Central differences: truncation O(h²) plus rounding O(ε/h). */
  private static final double H = 1e-5;
  private static final double GRADIENT_TOLERANCE = 1e-8;
  private static final double HESSIAN_TOLERANCE = 1e-7;
  /** Rounding of a mean of N double terms. */
  private static final double SUM_ROUNDING = 1e-13;

  private static SoftmaxRegression problem(Random random) {
    double[] x = new double[N * D];
    for (int k = 0; k < x.length; k++) {
      x[k] = random.nextDouble() < 0.4 ? 0 : 2 * random.nextGaussian();
    }
    int[] y = new int[N];
    for (int i = 0; i < N; i++) {
      y[i] = random.nextInt(K - 1); // class K-1 never occurs
    }
    return new SoftmaxRegression(x, D, y, K, MU);
  }

  private static double[] randomTheta(Random random, int length) {
    double[] theta = new double[length];
    for (int k = 0; k < length; k++) {
      theta[k] = 0.7 * random.nextGaussian();
    }
    return theta;
  }

  @Test
  void valueAtZeroIsLogOfClassCount() {
    SoftmaxRegression f = problem(new Random(SEED));
    assertEquals(Math.log(K), f.value(new double[f.dimension()]), SUM_ROUNDING);
  }

  @Test
  void gradientMatchesFiniteDifferencesOfValue() {
    Random random = new Random(SEED);
    SoftmaxRegression f = problem(random);
    double[] theta = randomTheta(random, f.dimension());
    double[] g = f.gradient(theta);
    for (int k = 0; k < theta.length; k++) {
      double fd = (f.value(shifted(theta, k, H)) - f.value(shifted(theta, k, -H))) / (2 * H);
      assertEquals(fd, g[k], GRADIENT_TOLERANCE, "dθ" + k);
    }
  }

  @Test
  void hessianMatchesFiniteDifferencesOfGradient() {
    Random random = new Random(SEED + 1);
    SoftmaxRegression f = problem(random);
    double[] theta = randomTheta(random, f.dimension());
    DMatrixRMaj h = f.hessian(theta);
    assertEquals(f.dimension(), h.numRows);
    assertEquals(f.dimension(), h.numCols);
    for (int k = 0; k < theta.length; k++) {
      double[] plus = f.gradient(shifted(theta, k, H));
      double[] minus = f.gradient(shifted(theta, k, -H));
      for (int r = 0; r < theta.length; r++) {
        double fd = (plus[r] - minus[r]) / (2 * H);
        assertEquals(fd, h.get(r, k), HESSIAN_TOLERANCE, "H[" + r + "," + k + "]");
      }
    }
  }

  @Test
  void newtonReachesAZeroGradient() {
    SoftmaxRegression f = problem(new Random(SEED + 2));
    NewtonMethod.Result fit = NewtonMethod.minimize(f, new double[f.dimension()], 1e-10, 50);
    assertTrue(fit.gradientNorm() < 1e-10, "|g| = " + fit.gradientNorm());
    assertEquals(NewtonMethod.norm(f.gradient(fit.theta())), fit.gradientNorm(), 1e-15);
    assertEquals(f.value(fit.theta()), fit.value(), 1e-15);
    // a minimum: every random direction goes up
    Random random = new Random(SEED + 3);
    for (int trial = 0; trial < 10; trial++) {
      double[] direction = randomTheta(random, f.dimension());
      double[] moved = fit.theta().clone();
      for (int k = 0; k < moved.length; k++) {
        moved[k] += 1e-3 * direction[k];
      }
      assertTrue(f.value(moved) > fit.value(), "direction " + trial);
    }
  }

  @Test
  void labelsOutOfRangeAreRefused() {
    assertThrows(IllegalArgumentException.class,
        () -> new SoftmaxRegression(new double[2], 1, new int[] {0, 3}, 3, MU));
    SoftmaxRegression f = problem(new Random(SEED));
    assertThrows(IllegalArgumentException.class, () -> f.value(new double[3]));
  }

  private static double[] shifted(double[] theta, int k, double h) {
    double[] t = theta.clone();
    t[k] += h;
    return t;
  }
}
