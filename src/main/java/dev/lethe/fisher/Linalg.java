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
  /**
   * netlib warns when its Vector-API Java fallback cannot load (it needs an incubator module we
   * do not enable); the native library or the F2j fallback is used then, and describe() says
   * which, so that warning only confuses the server log. Held so the level is not forgotten.
   */
  private static final Logger NETLIB = quiet("dev.ludovic.netlib.blas.InstanceBuilder");
  private static final Logger NETLIB_LAPACK = quiet("dev.ludovic.netlib.lapack.InstanceBuilder");
  private static final boolean NATIVE = detect();

  private Linalg() {}

  private static Logger quiet(String name) {
    Logger logger = Logger.getLogger(name);
    logger.setLevel(java.util.logging.Level.SEVERE);
    return logger;
  }

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
   * The Gram update of one block: c[i·b4 + j] += Σ_r g_r[i]·g_r[j] for j ≥ i (row-major upper
   * triangle; b4 = {@link GramKernel#padded}(b), the stride of c) over the k float rows g_r =
   * {@code rows[offset + r·span .. + b)}. Rows that are zero on the block are skipped (they add
   * nothing). {@code scratch} holds at least b4·k doubles and is overwritten; rows is not
   * modified; the entries of c below the diagonal are not meant to be read afterwards.
   */
  static void gramUpdate(float[] rows, int k, int span, int offset, int b, double[] scratch,
      double[] c) {
    gramUpdate(rows, k, span, offset, b, scratch, c, NATIVE);
  }

  /** As above, on the native BLAS or on Lethe's Java kernel (tests compare both). */
  static void gramUpdate(float[] rows, int k, int span, int offset, int b, double[] scratch,
      double[] c, boolean nativeBlas) {
    int b4 = GramKernel.padded(b);
    if (nativeBlas) {
      // The kept rows as the columns of a b4 × used column-major matrix A (one row after another,
      // a sequential copy); C += A·Aᵀ. The row-major upper triangle promised is the column-major
      // lower one.
      int used = GramKernel.copyNonZero(rows, k, span, offset, b, scratch);
      if (used > 0) {
        BLAS.getInstance().dsyrk("L", "N", b4, used, 1.0, scratch, b4, 1.0, c, b4);
      }
    } else {
      int used = GramKernel.transposeNonZero(rows, k, span, offset, b, scratch);
      if (used > 0) {
        GramKernel.syrkUpper(scratch, used, b4, c);
      }
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

  /**
   * y = A·x for the symmetric b × b matrix A stored packed as the upper triangle row by row
   * ({@code ap}, b(b+1)/2 values: LAPACK's column-major lower packed form) (DSPMV). x and y
   * hold b values and must not alias.
   */
  static void packedMultiply(double[] ap, int b, double[] x, double[] y) {
    BLAS.getInstance().dspmv("L", b, 1.0, ap, x, 1, 0.0, y, 1);
  }

  /**
   * C += α·A·Aᵀ on the upper triangle of the row-major b × b matrix {@code c}, for A the b × q
   * matrix whose columns are {@code cols} (column-major, q columns of b values one after
   * another) (DSYRK). Entries below the diagonal of c are not touched.
   */
  static void rankUpdateUpper(double[] cols, int q, double alpha, double[] c, int b) {
    if (q > 0) {
      // the row-major upper triangle of c is its column-major lower one
      BLAS.getInstance().dsyrk("L", "N", b, q, alpha, cols, b, 1.0, c, b);
    }
  }

  /**
   * Cholesky-factors the symmetric b × b matrix {@code a} in place (row-major, its upper triangle
   * read; DPOTRF). Returns false when it is not positive definite.
   */
  static boolean factor(double[] a, int b) {
    intW info = new intW(0);
    LAPACK.getInstance().dpotrf("L", b, a, b, info);
    return info.val == 0;
  }

  /** Solves a·x = rhs in place for a factored by {@link #factor} (DPOTRS, one right-hand side). */
  static void solveFactored(double[] a, int b, double[] rhs) {
    intW info = new intW(0);
    LAPACK.getInstance().dpotrs("L", b, 1, a, b, rhs, b, info);
    if (info.val != 0) {
      throw new IllegalStateException("dpotrs: argument " + (-info.val) + " is illegal");
    }
  }

  /**
   * Replaces a, factored by {@link #factor}, by its inverse, both triangles (DPOTRI, then the
   * upper triangle mirrored). Returns false when the factor is singular.
   */
  static boolean invertFactored(double[] a, int b) {
    intW info = new intW(0);
    LAPACK.getInstance().dpotri("L", b, a, b, info);
    if (info.val != 0) {
      return false;
    }
    for (int i = 0; i < b; i++) {
      for (int j = i + 1; j < b; j++) {
        a[j * b + i] = a[i * b + j];
      }
    }
    return true;
  }

  /**
   * Eigendecomposition of the symmetric n × n matrix {@code a} (row-major, both triangles set):
   * on return {@code a} holds Q row-major with the eigenvectors in its columns (Q[i][k] is entry
   * i of eigenvector k) and {@code w} the eigenvalues, ascending. LAPACK's divide and conquer
   * DSYEVD with a native library, else EJML's symmetric QR algorithm.
   *
   * @throws IllegalStateException when the algorithm does not converge
   */
  static void symmetricEigen(double[] a, int n, double[] w) {
    if (n == 0) {
      return;
    }
    if (NATIVE) {
      symmetricEigenLapack(a, n, w);
    } else {
      symmetricEigenEjml(a, n, w);
    }
  }

  /** {@link #symmetricEigen} by LAPACK's DSYEVD (netlib's; native when one loads). */
  static void symmetricEigenLapack(double[] a, int n, double[] w) {
    LAPACK lapack = LAPACK.getInstance();
    intW info = new intW(0);
    double[] work = new double[1];
    int[] iwork = new int[1];
    lapack.dsyevd("V", "L", n, a, n, w, work, -1, iwork, -1, info);
    work = new double[(int) work[0]];
    iwork = new int[iwork[0]];
    lapack.dsyevd("V", "L", n, a, n, w, work, work.length, iwork, iwork.length, info);
    if (info.val != 0) {
      throw new IllegalStateException("dsyevd did not converge (info " + info.val + ")");
    }
    // column-major Z (vector k in column k) read row-major is Zᵀ: transpose in place
    for (int i = 0; i < n; i++) {
      for (int j = i + 1; j < n; j++) {
        double t = a[i * n + j];
        a[i * n + j] = a[j * n + i];
        a[j * n + i] = t;
      }
    }
  }

  /** {@link #symmetricEigen} by EJML's symmetric QR algorithm (the Java fallback). */
  static void symmetricEigenEjml(double[] a, int n, double[] w) {
    org.ejml.data.DMatrixRMaj m = org.ejml.data.DMatrixRMaj.wrap(n, n, a);
    org.ejml.interfaces.decomposition.EigenDecomposition_F64<org.ejml.data.DMatrixRMaj> eig =
        org.ejml.dense.row.factory.DecompositionFactory_DDRM.eig(n, true, true);
    if (!eig.decompose(m.copy())) {
      throw new IllegalStateException("the symmetric eigendecomposition did not converge");
    }
    Integer[] order = new Integer[n];
    double[] values = new double[n];
    for (int k = 0; k < n; k++) {
      order[k] = k;
      values[k] = eig.getEigenvalue(k).getReal();
    }
    java.util.Arrays.sort(order, java.util.Comparator.comparingDouble(k -> values[k]));
    for (int k = 0; k < n; k++) {
      int src = order[k];
      w[k] = values[src];
      org.ejml.data.DMatrixRMaj v = eig.getEigenVector(src);
      for (int i = 0; i < n; i++) {
        a[i * n + k] = v.get(i, 0);
      }
    }
  }

  /**
   * C = op(A)·op(B) for row-major matrices (DGEMM): op(A) is m × k, op(B) k × n, C m × n;
   * {@code transA}/{@code transB} say whether A is stored k × m / B n × k.
   */
  static void multiply(boolean transA, boolean transB, int m, int n, int k, double[] a,
      double[] b, double[] c) {
    if (m == 0 || n == 0) {
      return;
    }
    gemm(transA, transB, m, n, k, a, b, 0.0, c);
  }

  /** C += op(A)·op(B), as {@link #multiply(boolean, boolean, int, int, int, double[], double[], double[])}. */
  static void multiplyAdd(boolean transA, boolean transB, int m, int n, int k, double[] a,
      double[] b, double[] c) {
    if (m == 0 || n == 0 || k == 0) {
      return;
    }
    gemm(transA, transB, m, n, k, a, b, 1.0, c);
  }

  /** C = op(A)op(B) + beta·C, row-major, through DGEMM. */
  private static void gemm(boolean transA, boolean transB, int m, int n, int k, double[] a,
      double[] b, double beta, double[] c) {
    // row-major C = op(A)op(B) is column-major Cᵀ = op(B)ᵀ op(A)ᵀ
    BLAS.getInstance().dgemm(transB ? "T" : "N", transA ? "T" : "N", n, m, k, 1.0, b,
        transB ? k : n, a, transA ? m : k, beta, c, n);
  }

  /** {@link #multiply(boolean, boolean, int, int, int, double[], double[], double[])} in float32 (SGEMM). */
  static void multiply(boolean transA, boolean transB, int m, int n, int k, float[] a,
      float[] b, float[] c) {
    if (m == 0 || n == 0) {
      return;
    }
    BLAS.getInstance().sgemm(transB ? "T" : "N", transA ? "T" : "N", n, m, k, 1.0f, b,
        transB ? k : n, a, transA ? m : k, 0.0f, c, n);
  }
}
