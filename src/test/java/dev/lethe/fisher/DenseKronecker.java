package dev.lethe.fisher;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/** Dense (EJML, double) counterparts of the Kronecker-factored computations, for the tests. */
final class DenseKronecker {
  private DenseKronecker() {}

  /** (1/|vs|) Σ v vᵀ. */
  static DMatrixRMaj outerMean(List<double[]> vs) {
    int m = vs.get(0).length;
    DMatrixRMaj out = new DMatrixRMaj(m, m);
    for (double[] v : vs) {
      for (int i = 0; i < m; i++) {
        for (int j = 0; j < m; j++) {
          out.add(i, j, v[i] * v[j] / vs.size());
        }
      }
    }
    return out;
  }

  /** Entry-wise, within {@code tolerance} of the largest |expected| entry. */
  static void assertClose(double[] expected, double[] actual, double tolerance, String what) {
    assertEquals(expected.length, actual.length, what);
    double max = 0;
    for (double e : expected) {
      max = Math.max(max, Math.abs(e));
    }
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], tolerance * max, what + " entry " + i);
    }
  }

  /** x = (Q_A ⊗ Q_G) diag(Λ + λ)⁻¹ (Q_A ⊗ Q_G)ᵀ d, dense. */
  static double[] eigenSolve(double[] qa, double[] qg, double[] e, double lambda, double[] d,
      int o, int c) {
    DMatrixRMaj q = new DMatrixRMaj(1, 1);
    CommonOps_DDRM.kron(DMatrixRMaj.wrap(o, o, qg), DMatrixRMaj.wrap(c, c, qa), q);
    DMatrixRMaj m = new DMatrixRMaj(o * c, o * c);
    for (int i = 0; i < o * c; i++) {
      m.set(i, i, 1 / (e[i] + lambda));
    }
    DMatrixRMaj t = new DMatrixRMaj(1, 1);
    DMatrixRMaj f = new DMatrixRMaj(o * c, o * c);
    CommonOps_DDRM.mult(q, m, t);
    CommonOps_DDRM.multTransB(t, q, f);
    DMatrixRMaj x = new DMatrixRMaj(o * c, 1);
    CommonOps_DDRM.mult(f, DMatrixRMaj.wrap(o * c, 1, d), x);
    return x.data;
  }
}
