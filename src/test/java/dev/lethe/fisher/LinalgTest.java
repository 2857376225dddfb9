package dev.lethe.fisher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;

/**
 * The Fisher's BLAS/LAPACK calls (native where the system has them) against direct EJML
 * products and inverses, and against Lethe's own Java kernel.
 */
class LinalgTest {
  /** Double arithmetic in another order: only rounding differs. */
  private static final double RELATIVE = 1e-12;
  /** An inverse of a well-conditioned 200 x 200 block, entry-wise against EJML's. */
  private static final double INVERSE = 1e-10;

  @Test
  void ciRunsTheNativeLibraries() {
    // .ci/run installs libopenblas0-pthread and sets this: a missing install step fails here
    // instead of silently running the Java fallback.
    if ("1".equals(System.getenv("LETHE_REQUIRE_NATIVE_BLAS"))) {
      assertTrue(Linalg.isNative(), Linalg.describe());
    }
    assertFalse(Linalg.describe().isEmpty());
  }

  @Test
  void gramUpdateIsTheUpperTriangleOfGTransposeG() {
    Random random = new Random(3);
    int k = 37;
    int b = 61;
    int b4 = GramKernel.padded(b);
    double[] g = new double[k * b]; // row-major k x b
    for (int i = 0; i < g.length; i++) {
      g[i] = random.nextGaussian();
    }
    double[] start = new double[b4 * b4];
    for (int i = 0; i < start.length; i++) {
      start[i] = random.nextGaussian();
    }
    double[] viaLinalg = start.clone();
    double[] viaKernel = start.clone();
    float[] rows = new float[k * (b + 5)]; // the block at column offset 3 of rows of 68 floats
    for (int r = 0; r < k; r++) {
      for (int c = 0; c < b; c++) {
        rows[r * (b + 5) + 3 + c] = (float) g[r * b + c];
        g[r * b + c] = (float) g[r * b + c];
      }
    }
    java.util.Arrays.fill(rows, 5 * (b + 5), 6 * (b + 5), 0f); // a row that is zero on the block
    java.util.Arrays.fill(g, 5 * b, 6 * b, 0.0);
    Linalg.gramUpdate(rows, k, b + 5, 3, b, new double[b4 * k], viaLinalg);
    Linalg.gramUpdate(rows, k, b + 5, 3, b, new double[b4 * k], viaKernel, false);
    DMatrixRMaj gm = DMatrixRMaj.wrap(k, b, g);
    DMatrixRMaj gtg = new DMatrixRMaj(b, b);
    CommonOps_DDRM.multTransA(gm, gm, gtg);
    double scale = CommonOps_DDRM.elementMaxAbs(gtg);
    for (int i = 0; i < b; i++) {
      for (int j = i; j < b; j++) {
        double expected = start[i * b4 + j] + gtg.get(i, j);
        assertEquals(expected, viaLinalg[i * b4 + j], RELATIVE * scale, "(" + i + ", " + j + ")");
        assertEquals(expected, viaKernel[i * b4 + j], RELATIVE * scale, "Java kernel (" + i + ", " + j + ")");
      }
    }
  }

  @Test
  void blockInversionMatchesADirectInverseAndRefusesWhatIsNotPositiveDefinite() {
    Random random = new Random(7);
    int b = 200;
    DMatrixRMaj a = new DMatrixRMaj(b, b);
    for (int i = 0; i < a.data.length; i++) {
      a.data[i] = random.nextGaussian();
    }
    DMatrixRMaj spd = new DMatrixRMaj(b, b);
    CommonOps_DDRM.multTransA(a, a, spd);
    for (int i = 0; i < b; i++) {
      spd.add(i, i, b);
    }
    DMatrixRMaj direct = new DMatrixRMaj(b, b);
    assertTrue(CommonOps_DDRM.invert(spd.copy(), direct));
    for (boolean nativeLapack : Linalg.isNative() ? new boolean[] {true, false} : new boolean[] {false}) {
      double[] inverse = BlockInversion.invert(spd.copy().data, b, "block", 1, nativeLapack);
      for (int i = 0; i < b * b; i++) {
        assertEquals(direct.data[i], inverse[i], INVERSE, "entry " + i + ", native " + nativeLapack);
      }
      DMatrixRMaj indefinite = spd.copy();
      indefinite.set(3, 3, -1);
      var e = org.junit.jupiter.api.Assertions.assertThrows(dev.lethe.core.LetheException.class,
          () -> BlockInversion.invert(indefinite.data, b, "block 9", 0.5, nativeLapack));
      assertTrue(e.getMessage().startsWith("dampening: block 9 is not positive definite"), e.getMessage());
    }
  }
}
