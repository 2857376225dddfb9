package dev.lethe.fisher;

import dev.ludovic.netlib.blas.BLAS;
import dev.ludovic.netlib.blas.NativeBLAS;
import dev.ludovic.netlib.lapack.LAPACK;
import dev.ludovic.netlib.lapack.NativeLAPACK;
import java.util.logging.Logger;
import org.netlib.util.intW;

/**
 * The dense linear algebra of the Fisher: the Gram update C += AᵀA (DSYRK) and the Cholesky
 * inversion of a symmetric positive-definite block (DPOTRF + DPOTRI), through
 * {@code dev.ludovic.netlib} — Spark MLlib's binding: JNI to the system's {@code libblas.so.3} /
 * {@code liblapack.so.3} (Debian's {@code libopenblas0-pthread} provides both), with pure-Java
 * implementations when no native library loads.
 *
 * <p>Where the native libraries are missing, the Gram update runs Lethe's own register-blocked
 * kernel ({@link GramKernel}: 3–4× the netlib Java fallback's DSYRK here) and the inversion
 * EJML's Cholesky. {@link #describe()} says which implementation runs; the server logs it at
 * start and the benchmarks print it. {@code -Dlethe.blas=java} forces the Java path (tests of
 * both). Stateless; thread-safe (the native calls are).
 *
 * <p>Threads: OpenBLAS threads a large DSYRK itself (OPENBLAS_NUM_THREADS bounds it), so with a
 * native BLAS a build accumulates its blocks one after another and lets BLAS use the cores;
 * with the Java kernel it spreads blocks over the Fisher pool instead. Never both.
 */
public final class Linalg {
  private static final Logger LOG = Logger.getLogger(Linalg.class.getName());
  private static final boolean NATIVE = detect();

  private Linalg() {}

  private static boolean detect() {
    if ("java".equals(System.getProperty("lethe.blas"))) {
      return false;
    }
    try {
      return BLAS.getInstance() instanceof NativeBLAS
          && LAPACK.getInstance() instanceof NativeLAPACK;
    } catch (RuntimeException | LinkageError e) {
      LOG.fine(() -> "no native BLAS/LAPACK: " + e);
      return false;
    }
  }

  /** True when the Gram update and the inversions run in the native BLAS/LAPACK. */
  public static boolean isNative() {
    return NATIVE;
  }

  /** Which implementation runs, for logs and benchmark output. */
  public static String describe() {
    return NATIVE
        ? "native BLAS/LAPACK (" + BLAS.getInstance().getClass().getSimpleName() + ", "
            + LAPACK.getInstance().getClass().getSimpleName() + " over the system's libblas.so.3"
            + " and liblapack.so.3)"
        : "Java (Lethe's Gram kernel and EJML's Cholesky; install libopenblas0-pthread for the"
            + " native BLAS)";
  }

  /**
   * c[i·ldc + j] += Σ_r gt[i·k + r]·gt[j·k + r] for j ≥ i (row-major upper triangle of GᵀG for
   * the transposed rows gt, column c at {@code gt[c·k, c·k + k)}); the other entries of c are not
   * meant to be read afterwards. gt is not modified.
   */
  static void syrkUpper(double[] gt, int k, int n, double[] c, int ldc) {
    if (NATIVE) {
      // gt is the k × n column-major matrix A; C = AᵀA column-major. The row-major upper
      // triangle this class promises is the column-major lower one.
      BLAS.getInstance().dsyrk("L", "T", n, k, 1.0, gt, k, 1.0, c, ldc);
    } else {
      GramKernel.syrkUpper(gt, k, ldc, c);
    }
  }

  /**
   * Inverts the symmetric b × b matrix {@code f} (row-major, both triangles set) in place;
   * returns false when the Cholesky factorisation fails (not positive definite).
   */
  static boolean invertSpd(double[] f, int b) {
    intW info = new intW(0);
    LAPACK lapack = LAPACK.getInstance();
    lapack.dpotrf("L", b, f, b, info);
    if (info.val != 0) {
      return false;
    }
    lapack.dpotri("L", b, f, b, info);
    if (info.val != 0) {
      return false;
    }
    // dpotri leaves the inverse in the column-major lower triangle = the row-major upper one.
    for (int i = 0; i < b; i++) {
      for (int j = i + 1; j < b; j++) {
        f[j * b + i] = f[i * b + j];
      }
    }
    return true;
  }
}
