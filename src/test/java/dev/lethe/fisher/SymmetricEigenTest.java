package dev.lethe.fisher;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;

/**
 * Both eigendecompositions the Kronecker factors use (LAPACK DSYEVD, EJML's symmetric QR)
 * against their definition on a random positive semi-definite matrix of rank 30 in 40
 * dimensions (so repeated zero eigenvalues too): A·Q = Q·Λ, QᵀQ = I, ascending Λ, 1e-10.
 */
class SymmetricEigenTest {
  private static final double TOLERANCE = 1e-10;

  private static double[] psd(int n, int rank, long seed) {
    Random r = new Random(seed);
    DMatrixRMaj b = new DMatrixRMaj(n, rank);
    for (int i = 0; i < b.data.length; i++) {
      b.data[i] = r.nextGaussian();
    }
    DMatrixRMaj a = new DMatrixRMaj(n, n);
    CommonOps_DDRM.multTransB(b, b, a);
    return a.data;
  }

  private static void check(double[] a, double[] q, double[] w, int n) {
    DMatrixRMaj am = DMatrixRMaj.wrap(n, n, a);
    DMatrixRMaj qm = DMatrixRMaj.wrap(n, n, q);
    DMatrixRMaj aq = new DMatrixRMaj(n, n);
    DMatrixRMaj qtq = new DMatrixRMaj(n, n);
    CommonOps_DDRM.mult(am, qm, aq);
    CommonOps_DDRM.multTransA(qm, qm, qtq);
    double scale = Math.abs(w[n - 1]);
    for (int i = 0; i < n; i++) {
      if (i > 0) {
        assertEquals(true, w[i] >= w[i - 1] - TOLERANCE * scale, "ascending at " + i);
      }
      for (int k = 0; k < n; k++) {
        assertEquals(q[i * n + k] * w[k], aq.get(i, k), TOLERANCE * scale, "A q_k, entry " + i);
        assertEquals(i == k ? 1 : 0, qtq.get(i, k), TOLERANCE, "QᵀQ");
      }
    }
  }

  @Test
  void lapackAndEjmlDecomposeAlike() {
    int n = 40;
    double[] a = psd(n, 30, 3);
    double[] q1 = a.clone();
    double[] w1 = new double[n];
    Linalg.symmetricEigenLapack(q1, n, w1);
    check(a, q1, w1, n);
    double[] q2 = a.clone();
    double[] w2 = new double[n];
    Linalg.symmetricEigenEjml(q2, n, w2);
    check(a, q2, w2, n);
    for (int k = 0; k < n; k++) {
      assertEquals(w1[k], w2[k], TOLERANCE * Math.abs(w1[n - 1]), "eigenvalue " + k);
    }
  }
}
