package dev.lethe.fisher;

/**
 * One data partition's share of a block-diagonal Fisher: the Grams A_b = Σ r rᵀ of the blocks
 * {@code [fromBlock, toBlock)} of a layout over the rows streamed through {@link #accept}, in
 * double, never scaled, damped or inverted. Partitions' Grams add up to the Grams a
 * {@link FisherAccumulator} would hold after the same rows; the sidecar finishes them with
 * {@link FisherSums} (F_b = λI + A_b/N, the same inversion and store as a build).
 *
 * <p>Heap: 8·b₄² bytes per block (b₄ = b rounded up to 4, {@link #bytes}); the rows are not kept.
 * The accumulation is the build's ({@code Linalg.gramUpdate}: DSYRK with a native BLAS, else
 * Lethe's Java kernel), in chunks of {@link BuildPlan#KERNEL_ROWS} rows. Not thread-safe.
 */
public final class BlockGrams {
  private final BlockLayout layout;
  private final int fromBlock;
  private final int toBlock;
  private final double[][] grams;
  private double[] scratch = new double[0];
  private long rows;

  public BlockGrams(BlockLayout layout, int fromBlock, int toBlock) {
    if (fromBlock < 0 || toBlock > layout.blockCount() || fromBlock >= toBlock) {
      throw new IllegalArgumentException(
          "blocks [" + fromBlock + ", " + toBlock + ") outside [0, " + layout.blockCount() + ")");
    }
    this.layout = layout;
    this.fromBlock = fromBlock;
    this.toBlock = toBlock;
    this.grams = new double[toBlock - fromBlock][];
    for (int b = fromBlock; b < toBlock; b++) {
      int b4 = GramKernel.padded(layout.size(b));
      grams[b - fromBlock] = new double[b4 * b4];
    }
  }

  /** Heap bytes the Grams of blocks [from, to) take. */
  public static long bytes(BlockLayout layout, int from, int to) {
    long sum = 0;
    for (int b = from; b < to; b++) {
      sum += FisherAccumulator.accumulatorBytes(InversionMethod.GRAM, layout.size(b));
    }
    return sum;
  }

  /**
   * The rows a build makes for {@code kind} ({@link FisherRows}: EMPIRICAL gradients, TRUE
   * Gauss–Newton rows, MONTE_CARLO draws seeded by (seed, stream position) for samples without
   * ids), over any {@link ModelView} — an executor's as well as the store's.
   */
  public static RowSource rows(ModelView view, CurvatureKind kind, int draws, long seed) {
    return new FisherRows(view, kind, Math.max(1, draws), seed);
  }

  /**
   * Adds {@code count} rows, row-major [count, P] over all P columns of the layout (rows is not
   * modified).
   */
  public void accept(float[] rowsIn, int count) {
    int p = layout.parameterCount();
    if (count < 0 || (long) count * p > rowsIn.length) {
      throw new IllegalArgumentException("rows: " + count + " x " + p + " exceeds " + rowsIn.length);
    }
    int k = BuildPlan.KERNEL_ROWS;
    for (int r = 0; r < count; r += k) {
      int n = Math.min(k, count - r);
      for (int b = fromBlock; b < toBlock; b++) {
        int b4 = GramKernel.padded(layout.size(b));
        if (scratch.length < b4 * n) {
          scratch = new double[b4 * Math.max(n, k)];
        }
        Linalg.gramUpdate(rowsIn, n, p, r * p + layout.start(b), layout.size(b), scratch,
            grams[b - fromBlock]);
      }
    }
    rows += count;
  }

  /** Rows accepted so far. */
  public long rows() {
    return rows;
  }

  public int fromBlock() {
    return fromBlock;
  }

  public int toBlock() {
    return toBlock;
  }

  /**
   * Block {@code b}'s Gram as its packed upper triangle: row i holds entries (i, i..b−1), b(b+1)/2
   * doubles (what {@link FisherSums#accept} takes).
   */
  public double[] packedUpper(int b) {
    int size = layout.size(b);
    int b4 = GramKernel.padded(size);
    double[] a = grams[b - fromBlock];
    double[] out = new double[packedLength(size)];
    int o = 0;
    for (int i = 0; i < size; i++) {
      System.arraycopy(a, i * b4 + i, out, o, size - i);
      o += size - i;
    }
    return out;
  }

  /** b(b+1)/2, the doubles of a packed block of b entries. */
  public static int packedLength(int b) {
    return Math.toIntExact((long) b * (b + 1) / 2);
  }

  /** {@code into += from}, element-wise (partitions' packed Grams combined). */
  public static double[] add(double[] into, double[] from) {
    if (into.length != from.length) {
      throw new IllegalArgumentException("adding " + from.length + " sums to " + into.length);
    }
    for (int i = 0; i < into.length; i++) {
      into[i] += from[i];
    }
    return into;
  }

  /**
   * F = λI + A/vectors, symmetric row-major b × b, from a Gram whose upper triangle is
   * {@code a[i·stride + j]} (j ≥ i): how a build and {@link FisherSums} both make a block's F.
   */
  static double[] fisher(double[] a, int stride, int b, long vectors, double dampening) {
    double[] f = new double[b * b];
    double scale = 1.0 / vectors;
    for (int i = 0; i < b; i++) {
      for (int j = i; j < b; j++) {
        double v = a[i * stride + j] * scale;
        f[i * b + j] = v;
        f[j * b + i] = v;
      }
      f[i * b + i] += dampening;
    }
    return f;
  }
}
