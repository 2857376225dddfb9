package dev.lethe.fisher;

import dev.lethe.core.LetheException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The leave-S-out solve of an erase (the paper's eq. 1, exact per block): x = F₋S⁻¹ g with
 *
 * <pre>
 *   F    = λI + 1/(n·r) Σ_D ρρᵀ                     (the stored Fisher: n samples, r rows each)
 *   F₋S  = λI + 1/((n−k)·r) (Σ_D − Σ_S) ρρᵀ
 *        = c·(A − ŨŨᵀ/n),   c = n/(n−k),  A = F − δI,  δ = kλ/n,  Ũ = U/√r
 * </pre>
 *
 * with U the block's columns of S's k·r rows, computed from the erase's own samples at the
 * weights the Fisher was built at ({@link ErasedRows}); rows zero on a block are skipped there
 * (q of them remain). Each block takes the cheaper of two exact paths (an estimate of their
 * multiply-adds):
 *
 * <ul>
 *   <li><b>Woodbury</b> on the stored inverse, when q is small against b: A⁻¹ = Σ_j (δF⁻¹)^j F⁻¹
 *       (a Neumann series: ‖δF⁻¹‖ ≤ δ/λ = k/n < 1, summed until a term is below 1e-11 of the
 *       sum) applied to [g, Ũ] by packed matrix-vector products (DSPMV on the stored packed
 *       layout), then (A − ŨŨᵀ/n)⁻¹g = A⁻¹g + A⁻¹Ũ (nI − ŨᵀA⁻¹Ũ)⁻¹ ŨᵀA⁻¹g;
 *   <li><b>refactor</b>: F₋S formed from the block's stored F (or, for Fishers stored without
 *       it, from the inverse inverted) with one rank-q update (DSYRK), factored (DPOTRF) and
 *       solved (DPOTRS).
 * </ul>
 *
 * With a downdate sink every block is refactored and F₋S and its inverse are written to it: the
 * Fisher over the n − k samples that remain, for the next erase (the same arithmetic).
 *
 * <p>Memory: the rows of one group of blocks at a time, k·r·width floats, width chosen so they fit
 * {@code budgetBytes}; each further group recomputes the rows (one more pass of the erase's
 * gradients). Per pool task about 3 b² doubles. Blocks run on the shared pool; the result is
 * complete or the call throws (nothing partial is returned; a downdate sink is left uncommitted).
 */
public final class LeaveOut {
  /** How a block is solved: by cost ({@link #AUTO}), or forced (tests, benchmarks). */
  public enum Path {
    AUTO,
    WOODBURY,
    REFACTOR
  }

  /**
   * A Neumann term this small against the sum ends the series: far below the float32 rounding
   * of the stored blocks (6e-8), so the series adds no error of its own.
   */
  private static final double SERIES_TOLERANCE = 1e-11;
  /**
   * A memory-bound multiply-add (a packed matrix-vector product streams the block) against a
   * compute-bound one (DPOTRF, DSYRK), for the choice of path: ~9× per thread here, and the
   * Woodbury blocks run on both tasks while refactors take turns (below), so 5.
   */
  private static final double MEMORY_BOUND = 5;
  /**
   * With a native LAPACK, OpenBLAS threads each factorisation itself: refactored blocks take
   * turns (two at once on two cores ran at a third of the speed here), while Woodbury blocks,
   * memory-bound, run on every task.
   */
  private static final Object NATIVE_FACTOR = new Object();

  private LeaveOut() {}

  /**
   * What the solve did.
   *
   * @param x F₋S⁻¹ g, P doubles
   * @param woodburyBlocks blocks solved on the stored inverse
   * @param refactorBlocks blocks refactored
   * @param passes times the erased samples' rows were computed (groups of blocks)
   */
  public record Result(double[] x, int woodburyBlocks, int refactorBlocks, int passes) {}

  /**
   * Solves F₋S x = g for the Fisher {@code fisher} with S's rows {@code rows}; with
   * {@code downdate} non-null, also writes F₋S and F₋S⁻¹ of every block to it (not committed).
   *
   * @param g P doubles, not modified
   * @param pool the shared Fisher pool, or null for the calling thread
   * @param budgetBytes heap for the rows of one group of blocks
   * @throws LetheException FAILED_PRECONDITION naming the block when F₋S is not positive
   *     definite; RESOURCE_EXHAUSTED when one block's rows exceed the budget
   */
  public static Result solve(FisherInverse fisher, ErasedRows rows, double[] g, BlockSink downdate,
      ExecutorService pool, int parallelism, long budgetBytes, Path path) {
    FisherHeader h = fisher.header();
    BlockLayout layout = h.layout();
    int p = layout.parameterCount();
    long n = h.samples();
    int k = rows.samples();
    int r = rows.rowsPerSample();
    if (rows.columns() != p || g.length != p) {
      throw new IllegalArgumentException("rows of " + rows.columns() + " and a vector of "
          + g.length + " for a Fisher of " + p + " parameters");
    }
    if (k < 1 || k >= n) {
      throw LetheException.precondition("leave-out: cannot remove " + k + " of the Fisher's " + n
          + " samples");
    }
    long perColumn = (long) k * r * Float.BYTES;
    List<int[]> groups = groups(layout, perColumn, budgetBytes);
    double[] x = new double[p];
    AtomicInteger woodbury = new AtomicInteger();
    AtomicInteger refactor = new AtomicInteger();
    Block work = new Block(fisher, g, x, n, k, r, downdate, path, woodbury, refactor);
    for (int[] group : groups) {
      int from = layout.start(group[0]);
      int width = layout.end(group[1] - 1) - from;
      float[] u = columns(rows, from, width);
      AtomicInteger next = new AtomicInteger(group[0]);
      Callable<Void> task = () -> {
        for (int b; (b = next.getAndIncrement()) < group[1]; ) {
          work.solve(b, u, width, layout.start(b) - from);
        }
        return null;
      };
      if (pool == null || parallelism < 2) {
        Futures.call(task);
      } else {
        List<Future<?>> futures = new ArrayList<>(parallelism);
        for (int t = 0; t < parallelism; t++) {
          futures.add(pool.submit(task));
        }
        Futures.awaitAll(futures, "the leave-out solve");
      }
    }
    return new Result(x, woodbury.get(), refactor.get(), groups.size());
  }

  /** Consecutive block groups [from, to) whose rows (perColumn bytes a column) fit the budget. */
  static List<int[]> groups(BlockLayout layout, long perColumn, long budgetBytes) {
    List<int[]> groups = new ArrayList<>();
    int from = 0;
    long width = 0;
    for (int b = 0; b < layout.blockCount(); b++) {
      long size = layout.size(b);
      if (size * perColumn > budgetBytes) {
        throw LetheException.tooLarge("samples", "the erased samples' Fisher rows on one block of "
            + size + " entries take " + size * perColumn + " bytes, more than the "
            + budgetBytes + " bytes of --fisher-memory-bytes; erase fewer samples per request");
      }
      if ((width + size) * perColumn > budgetBytes) {
        groups.add(new int[] {from, b});
        from = b;
        width = 0;
      }
      width += size;
    }
    groups.add(new int[] {from, layout.blockCount()});
    return groups;
  }

  /** Columns [from, from + width) of all k·r rows, row-major [k·r × width]. */
  private static float[] columns(ErasedRows rows, int from, int width) {
    int p = rows.columns();
    int total = rows.samples() * rows.rowsPerSample();
    float[] u = new float[Math.multiplyExact(total, width)];
    int[] filled = {0};
    rows.forEach((chunk, count) -> {
      if (filled[0] + count > total) {
        throw new IllegalStateException("more than " + total + " erased rows");
      }
      for (int i = 0; i < count; i++) {
        System.arraycopy(chunk, i * p + from, u, (filled[0] + i) * width, width);
      }
      filled[0] += count;
    });
    if (filled[0] != total) {
      throw new IllegalStateException(filled[0] + " erased rows, expected " + total);
    }
    return u;
  }

  /** The numbers of one solve, shared by the block tasks (each block writes its own slice of x). */
  private record Block(FisherInverse fisher, double[] g, double[] x, long n, int k, int r,
      BlockSink downdate, Path path, AtomicInteger woodbury, AtomicInteger refactor) {

    /** Solves block b whose U is u's columns [offset, offset + b) (row stride width). */
    void solve(int b, float[] u, int width, int offset) {
      BlockLayout layout = fisher.layout();
      int size = layout.size(b);
      int total = k * r;
      int[] nonZero = nonZeroRows(u, total, width, offset, size);
      double rho = (double) k / n;
      Path use = downdate != null ? Path.REFACTOR
          : path != Path.AUTO ? path
          : woodburyCost(size, nonZero.length, rho) < refactorCost(size, nonZero.length)
              ? Path.WOODBURY : Path.REFACTOR;
      if (use == Path.WOODBURY) {
        woodbury(b, u, width, offset, nonZero);
        woodbury.incrementAndGet();
      } else {
        refactor(b, u, width, offset, nonZero);
        refactor.incrementAndGet();
      }
    }

    /**
     * The Woodbury path's work in units of a multiply-add of a compute-bound kernel: each
     * Neumann term is a memory-bound packed matrix-vector product per column (weighted by
     * {@link #MEMORY_BOUND}), then the q × q system.
     */
    private double woodburyCost(double b, int q, double rho) {
      return MEMORY_BOUND * b * b * (q + 1) * seriesTerms(rho) + 2 * b * q * (double) q
          + Math.pow(q, 3) / 3;
    }

    /** The refactor path's: forming F₋S (memory-bound), the rank-q update and DPOTRF. */
    private double refactorCost(double b, int q) {
      double inverting = fisher.header().withFisher() ? 0 : 2 * b * b * b;
      return inverting + MEMORY_BOUND * 2 * b * b + b * b * q + b * b * b / 3;
    }

    private void woodbury(int blk, float[] u, int width, int offset, int[] nonZero) {
      BlockLayout layout = fisher.layout();
      int b = layout.size(blk);
      int s = layout.start(blk);
      int q = nonZero.length;
      double lambda = fisher.header().dampening();
      double delta = k * lambda / n;
      double c = (double) n / (n - k);
      double root = 1 / Math.sqrt(r);
      double[] inverse = new double[b * (b + 1) / 2];
      fisher.readPackedInverse(blk, inverse);
      // columns [g_b, ũ_1 .. ũ_q]; z_c = A⁻¹ v_c by the Neumann series, column by column
      double[][] v = new double[q + 1][b];
      System.arraycopy(g, s, v[0], 0, b);
      for (int j = 0; j < q; j++) {
        int base = nonZero[j] * width + offset;
        for (int i = 0; i < b; i++) {
          v[j + 1][i] = u[base + i] * root;
        }
      }
      int terms = seriesTerms((double) k / n);
      double[][] z = new double[q + 1][];
      double[] term = new double[b];
      double[] next = new double[b];
      for (int col = 0; col <= q; col++) {
        double[] sum = new double[b];
        Linalg.packedMultiply(inverse, b, v[col], term);
        System.arraycopy(term, 0, sum, 0, b);
        for (int j = 1; j < terms; j++) {
          Linalg.packedMultiply(inverse, b, term, next);
          double termMax = 0;
          double sumMax = 0;
          for (int i = 0; i < b; i++) {
            next[i] *= delta;
            sum[i] += next[i];
            termMax = Math.max(termMax, Math.abs(next[i]));
            sumMax = Math.max(sumMax, Math.abs(sum[i]));
          }
          double[] t = term;
          term = next;
          next = t;
          if (termMax <= SERIES_TOLERANCE * sumMax) {
            break;
          }
        }
        z[col] = sum;
      }
      double[] y = new double[q];
      if (q > 0) {
        // C = nI − ŨᵀZ_U (q × q), w = Ũᵀ z_g: a Cholesky solve
        double[] cm = new double[q * q];
        double[] w = new double[q];
        for (int a = 0; a < q; a++) {
          w[a] = dot(v[a + 1], z[0], b);
          for (int e = a; e < q; e++) {
            double d = -0.5 * (dot(v[a + 1], z[e + 1], b) + dot(v[e + 1], z[a + 1], b));
            cm[a * q + e] = d;
            cm[e * q + a] = d;
          }
          cm[a * q + a] += n;
        }
        if (!Linalg.factor(cm, q)) {
          throw notPositiveDefinite(blk);
        }
        Linalg.solveFactored(cm, q, w);
        y = w;
      }
      for (int i = 0; i < b; i++) {
        double sum = z[0][i];
        for (int a = 0; a < q; a++) {
          sum += z[a + 1][i] * y[a];
        }
        x[s + i] = sum / c;
      }
    }

    private void refactor(int blk, float[] u, int width, int offset, int[] nonZero) {
      BlockLayout layout = fisher.layout();
      int b = layout.size(blk);
      int s = layout.start(blk);
      int q = nonZero.length;
      double lambda = fisher.header().dampening();
      double c = (double) n / (n - k);
      double shift = k * lambda / (n - k);
      double rowScale = 1.0 / ((double) (n - k) * r);
      // F₋S = c·F − shift·I − rowScale·UUᵀ, upper triangle, row-major
      double[] m = new double[b * b];
      fisher.readFisherUpper(blk, m);
      for (int i = 0; i < b; i++) {
        int base = i * b;
        for (int j = i; j < b; j++) {
          m[base + j] *= c;
        }
        m[base + i] -= shift;
      }
      double[] cols = new double[Math.max(1, b * q)];
      for (int j = 0; j < q; j++) {
        int from = nonZero[j] * width + offset;
        for (int i = 0; i < b; i++) {
          cols[j * b + i] = u[from + i];
        }
      }
      Linalg.rankUpdateUpper(cols, q, -rowScale, m, b);
      cols = null;
      if (downdate != null) {
        for (int i = 0; i < b; i++) {
          for (int j = i + 1; j < b; j++) {
            m[j * b + i] = m[i * b + j];
          }
        }
        downdate.acceptFisher(blk, m);
      }
      double[] rhs = new double[b];
      System.arraycopy(g, s, rhs, 0, b);
      boolean invertible;
      if (Linalg.isNative()) {
        synchronized (NATIVE_FACTOR) {
          invertible = factorAndSolve(m, b, rhs);
        }
      } else {
        invertible = factorAndSolve(m, b, rhs);
      }
      if (!invertible) {
        throw notPositiveDefinite(blk);
      }
      for (double v : rhs) {
        if (!Double.isFinite(v)) {
          throw notPositiveDefinite(blk);
        }
      }
      System.arraycopy(rhs, 0, x, s, b);
      if (downdate != null) {
        downdate.accept(blk, m);
      }
    }

    /** DPOTRF then DPOTRS in place, and (downdate) DPOTRI; false when not positive definite. */
    private boolean factorAndSolve(double[] m, int b, double[] rhs) {
      if (!Linalg.factor(m, b)) {
        return false;
      }
      Linalg.solveFactored(m, b, rhs);
      return downdate == null || Linalg.invertFactored(m, b);
    }

    private LetheException notPositiveDefinite(int blk) {
      return LetheException.precondition("leave-out: F₋S of "
          + FisherAccumulator.describe(fisher.layout(), blk) + " is not positive definite after"
          + " removing the rows of these " + k + " samples (Fisher of n = " + n + ", λ = "
          + fisher.header().dampening() + "): the samples are not all part of the Fisher's"
          + " training data, or k is too close to n, or λ too small; nothing was changed");
    }
  }

  /** Terms of the Neumann series for ‖δF⁻¹‖ ≤ rho to reach {@link #SERIES_TOLERANCE}. */
  static int seriesTerms(double rho) {
    if (rho <= 0) {
      return 1;
    }
    return (int) Math.min(500, Math.ceil(Math.log(SERIES_TOLERANCE) / Math.log(rho)) + 1);
  }

  private static double dot(double[] a, double[] b, int len) {
    double sum = 0;
    for (int i = 0; i < len; i++) {
      sum += a[i] * b[i];
    }
    return sum;
  }

  /** The rows among the first {@code total} whose entries [offset, offset + b) are not all zero. */
  private static int[] nonZeroRows(float[] u, int total, int width, int offset, int b) {
    int[] keep = new int[total];
    int q = 0;
    for (int row = 0; row < total; row++) {
      int base = row * width + offset;
      for (int i = 0; i < b; i++) {
        if (u[base + i] != 0f) {
          keep[q++] = row;
          break;
        }
      }
    }
    return java.util.Arrays.copyOf(keep, q);
  }
}
