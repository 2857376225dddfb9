package dev.lethe.fisher;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.NormOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.junit.jupiter.api.Test;

/**
 * The float32 eigenbasis solve large layers take ({@link KroneckerLargeSolve#solveDense}) against
 * the same formula in double with EJML: D' = Q_G [(Q_Gᵀ D Q_A) ⊘ (Λ + λ)] Q_Aᵀ, relative
 * Frobenius error ≤ 1e-5. The bases are rounded to float32 first, as they are stored.
 */
class KroneckerSolveTest {
  private static final double TOLERANCE = 1e-5;

  @Test
  void theSinglePrecisionSolveMatchesTheDoubleFormula() {
    Random random = new Random(7);
    int o = 300;
    int c = 513;
    double[] qa = stored(orthogonal(c, random));
    double[] qg = stored(orthogonal(o, random));
    double[] lambda = new double[o * c];
    double[] d = new double[o * c];
    for (int i = 0; i < d.length; i++) {
      lambda[i] = Math.exp(4 * random.nextGaussian()); // eigenvalues over many decades
      d[i] = random.nextGaussian();
    }
    double damp = 1e-3;
    DMatrixRMaj expected = reference(o, c, qa, qg, lambda, damp, d);
    double[] got = d.clone();
    KroneckerLargeSolve.solveDense(o, c, qa, qg, lambda, damp, got);
    double error = NormOps_DDRM.normF(CommonOps_DDRM.subtract(expected,
        DMatrixRMaj.wrap(o, c, got), null)) / NormOps_DDRM.normF(expected);
    assertTrue(error <= TOLERANCE, "relative error " + error);
  }

  @Test
  void largeLayersTakeTheSinglePrecisionSolveAndSmallOnesTheDoubleOne() {
    Random random = new Random(8);
    for (int[] size : new int[][] {{4, 9}, {1024, 1024}}) {
      int o = size[0];
      int c = size[1];
      KroneckerLayer layer = new KroneckerLayer(0, -1, o, c, true, 1, 1);
      double[] qa = stored(orthogonal(c, random));
      double[] qg = stored(orthogonal(o, random));
      double[] lambda = new double[o * c];
      double[] d = new double[o * c];
      for (int i = 0; i < d.length; i++) {
        lambda[i] = 1 + random.nextDouble();
        d[i] = random.nextGaussian();
      }
      double[] viaSolve = d.clone();
      KroneckerInverse.solve(layer, qa, qg, lambda, 0.1, viaSolve);
      double[] single = d.clone();
      KroneckerLargeSolve.solveDense(o, c, qa, qg, lambda, 0.1, single);
      boolean large = (long) o * c >= KroneckerInverse.SINGLE_PRECISION_ENTRIES;
      // the double solve and the float one differ by rounding; the same path agrees exactly
      assertTrue(large == java.util.Arrays.equals(viaSolve, single), o + " x " + c);
    }
  }

  /** The formula in double with EJML. */
  static DMatrixRMaj reference(int o, int c, double[] qa, double[] qg, double[] lambda,
      double damp, double[] d) {
    DMatrixRMaj a = DMatrixRMaj.wrap(c, c, qa);
    DMatrixRMaj g = DMatrixRMaj.wrap(o, o, qg);
    DMatrixRMaj t = new DMatrixRMaj(o, c);
    DMatrixRMaj p = new DMatrixRMaj(o, c);
    CommonOps_DDRM.multTransA(g, DMatrixRMaj.wrap(o, c, d.clone()), t);
    CommonOps_DDRM.mult(t, a, p);
    for (int i = 0; i < p.data.length; i++) {
      p.data[i] /= lambda[i] + damp;
    }
    CommonOps_DDRM.mult(g, p, t);
    DMatrixRMaj out = new DMatrixRMaj(o, c);
    CommonOps_DDRM.multTransB(t, a, out);
    return out;
  }

  static DMatrixRMaj orthogonal(int n, Random random) {
    DMatrixRMaj m = new DMatrixRMaj(n, n);
    for (int i = 0; i < m.data.length; i++) {
      m.data[i] = random.nextGaussian();
    }
    QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(n, n);
    qr.decompose(m);
    return qr.getQ(null, false);
  }

  /** Rounded to float32, as the stored parts are. */
  static double[] stored(DMatrixRMaj m) {
    double[] x = new double[m.data.length];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) m.data[i];
    }
    return x;
  }
}
