package dev.lethe.fisher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;

/**
 * The large-layer erase solve ({@link KroneckerLargeSolve}) against the formula in double
 * with EJML ({@link KroneckerSolveTest#reference}): the gradient kept as factors Δᵀ Ā plus the
 * L2 term k·μ·W, projected as (ΔQ_G)ᵀ(ĀQ_A) + k·μ·θ̃ in float32, equals
 * Q_G [(Q_Gᵀ D Q_A) ⊘ (Λ + λ)] Q_Aᵀ of the dense D, relative Frobenius error ≤ 1e-5; so does
 * the same solve given θ̃ (as the projected-weights cache gives it), and θ̃ of the next
 * version derived as θ̃ + s·M equals the projection of the updated weights. The bases are
 * rounded to float32 first, as they are stored. Also the EKFAC leave-out's projected squares
 * in float32 against {@link KroneckerBuild#addProjectedSquares} in double.
 */
class KroneckerLargeSolveTest {
  private static final double TOLERANCE = 1e-5;
  private static final int OUT = 96;
  private static final int IN = 128;
  private static final int C = IN + 1;

  private final Random random = new Random(11);
  private final KroneckerLayer layer = new KroneckerLayer(0, 1, OUT, IN, true, 1, 1);
  private final long[] offsets = {0, (long) OUT * IN, (long) OUT * IN + OUT};
  private final Kronecker kronecker = new Kronecker(FisherStructure.EKFAC, offsets, new int[0],
      List.of(layer));
  private final double[] qa = KroneckerSolveTest.stored(KroneckerSolveTest.orthogonal(C, random));
  private final double[] qg = KroneckerSolveTest.stored(KroneckerSolveTest.orthogonal(OUT, random));
  private final double[] lambda = new double[OUT * C];
  private final float[] theta = new float[OUT * C];
  private final double damp = 1e-3;

  KroneckerLargeSolveTest() {
    for (int i = 0; i < lambda.length; i++) {
      lambda[i] = Math.exp(3 * random.nextGaussian());
      theta[i] = (float) random.nextGaussian();
    }
  }

  @Test
  void theFactoredSolveWithItsL2TermMatchesTheDenseFormula() {
    int r = 5;
    double l2 = 3 * 0.02;
    FactoredGradient g = gradient(r, l2);
    double[] d = g.layerDense(0);
    assertClose(dense(r, g, l2), d, 1e-12, "D = ΔᵀĀ + k·μ·W");

    KroneckerLargeSolve.Result cold = KroneckerLargeSolve.solve(layer, 0, f(qa), f(qg),
        f(lambda), damp, g, null, offsets);
    DMatrixRMaj expected = KroneckerSolveTest.reference(OUT, C, qa, qg, lambda, damp, d);
    assertClose(expected.data, toDouble(cold.x()), TOLERANCE, "x, θ̃ computed");
    assertClose(projection(weights()), toDouble(cold.projected()), TOLERANCE, "θ̃ = Q_Gᵀ W Q_A");

    KroneckerLargeSolve.Result warm = KroneckerLargeSolve.solve(layer, 0, f(qa), f(qg),
        f(lambda), damp, g, cold.projected(), offsets);
    assertClose(expected.data, toDouble(warm.x()), TOLERANCE, "x, θ̃ given");

    double s = 0.37;
    double[] next = weights();
    for (int i = 0; i < next.length; i++) {
      next[i] += s * cold.x()[i];
    }
    assertClose(projection(next), toDouble(KroneckerLargeSolve.next(cold.projected(),
        cold.middle(), s)), TOLERANCE, "θ̃ of W + s·x derived as θ̃ + s·M");
  }

  @Test
  void withoutAnL2TermNoWeightsAreProjected() {
    FactoredGradient g = gradient(3, 0);
    KroneckerLargeSolve.Result r = KroneckerLargeSolve.solve(layer, 0, f(qa), f(qg), f(lambda),
        damp, g, null, offsets);
    assertNull(r.projected());
    DMatrixRMaj expected = KroneckerSolveTest.reference(OUT, C, qa, qg, lambda, damp,
        g.layerDense(0));
    assertClose(expected.data, toDouble(r.x()), TOLERANCE, "x");
    assertEquals(FactoredGradient.maxRank(new KroneckerLayer(0, 1, 2048, 4096, true, 1, 1)), 877);
  }

  @Test
  void theLeaveOutsProjectedSquaresInFloatMatchTheDoubleOnes() {
    int k = 4;
    int rows = 2;
    float[] inputs = new float[k * rows * IN];
    float[] cotangents = new float[k * rows * OUT];
    for (int i = 0; i < inputs.length; i++) {
      inputs[i] = (float) random.nextGaussian();
    }
    for (int i = 0; i < cotangents.length; i++) {
      cotangents[i] = (float) random.nextGaussian();
    }
    double[] expected = new double[OUT * C];
    KroneckerBuild.addProjectedSquares(layer, qa, qg, inputs, cotangents, k, rows, 1.0, expected);
    float[] got = KroneckerLeaveOut.projectedSquares(layer, f(qa), f(qg), inputs, cotangents, k,
        rows);
    assertClose(expected, toDouble(got), TOLERANCE, "Σ_S (Q_Gᵀδ)² ⊗ (Q_Aᵀā)²");
  }

  private FactoredGradient gradient(int r, double l2) {
    double[] delta = new double[r * OUT];
    double[] input = new double[r * C];
    for (int i = 0; i < delta.length; i++) {
      delta[i] = random.nextGaussian();
    }
    for (int i = 0; i < r; i++) {
      for (int j = 0; j < IN; j++) {
        input[i * C + j] = random.nextGaussian();
      }
      input[i * C + IN] = 1; // the folded bias
    }
    return FactoredGradient.ofFactors(kronecker, theta.length, new double[][] {delta},
        new double[][] {input}, l2, theta, 7);
  }

  /** ΔᵀĀ + l2·W by plain loops. */
  private double[] dense(int r, FactoredGradient g, double l2) {
    double[] w = weights();
    double[] d = new double[OUT * C];
    for (int o = 0; o < OUT; o++) {
      for (int j = 0; j < C; j++) {
        double sum = 0;
        for (int i = 0; i < r; i++) {
          sum += g.delta(0)[i * OUT + o] * g.input(0)[i * C + j];
        }
        d[o * C + j] = sum + l2 * w[o * C + j];
      }
    }
    return d;
  }

  /** W as the layer's out × c matrix: weight [out, in] row-major, then the bias column. */
  private double[] weights() {
    double[] w = new double[OUT * C];
    for (int o = 0; o < OUT; o++) {
      for (int j = 0; j < IN; j++) {
        w[o * C + j] = theta[o * IN + j];
      }
      w[o * C + IN] = theta[OUT * IN + o];
    }
    return w;
  }

  /** Q_Gᵀ M Q_A in double (EJML). */
  private double[] projection(double[] m) {
    DMatrixRMaj t = new DMatrixRMaj(OUT, C);
    CommonOps_DDRM.multTransA(DMatrixRMaj.wrap(OUT, OUT, qg), DMatrixRMaj.wrap(OUT, C, m), t);
    DMatrixRMaj out = new DMatrixRMaj(OUT, C);
    CommonOps_DDRM.mult(t, DMatrixRMaj.wrap(C, C, qa), out);
    return out.data;
  }

  private static float[] f(double[] x) {
    return KroneckerLargeSolve.single(x);
  }

  private static double[] toDouble(float[] x) {
    return KroneckerBuild.toDouble(x);
  }

  private static void assertClose(double[] expected, double[] got, double tolerance, String what) {
    double diff = 0;
    double norm = 0;
    for (int i = 0; i < expected.length; i++) {
      diff += (expected[i] - got[i]) * (expected[i] - got[i]);
      norm += expected[i] * expected[i];
    }
    double error = Math.sqrt(diff / norm);
    assertTrue(error <= tolerance, what + ": relative error " + error);
  }
}
