package dev.lethe.fisher;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/**
 * Accumulates the Fisher blocks {@code [fromBlock, toBlock)} of a layout from gradient rows that
 * stream in batches, then inverts them: one pass of a build. {@link FisherBuild} runs as many
 * passes as the memory budget needs; a caller whose blocks all fit can use one accumulator
 * directly on a stream that arrives once.
 *
 * <p>Rows passed to {@link #accept} are restricted to the accumulator's columns
 * {@code [fromColumn(), toColumn())} (all P columns when it covers every block), row-major.
 *
 * <p>Mini-batch (m > 1): m consecutive rows are averaged (in double) into one vector ḡ before the
 * outer product; a final group of fewer than m rows is averaged over its own size. The matrix is
 * then F = λI + (1/N)Σ_j ḡ_j ḡ_jᵀ with N = ⌈n/m⌉ the number of averaged vectors, i.e. the mean
 * outer product of the vectors actually used — the paper's mini-batch Fisher, which treats each
 * mini-batch gradient as one sample. At m = 1 it is exactly λI + (1/n)Σ g gᵀ (the rows are used
 * as given). Its second-moment part is about 1/m of the per-sample one for the noise around the
 * mean gradient; ε (calibrated per model) absorbs that scale.
 *
 * <p>Not thread-safe: one thread calls accept and finish; the work inside is spread over the
 * executor given (owned by the caller), or done in the calling thread when it is null.
 */
public final class FisherAccumulator {
  private final BlockLayout layout;
  private final int fromBlock;
  private final int toBlock;
  private final long n;
  private final long vectors;
  private final BuildOptions options;
  private final ExecutorService pool;
  private final int span;
  private final int tasks;
  private final int gramTasks;
  private final Strategy[] blocks;
  private final Object[] scratch;
  // mini-batch state (m > 1)
  private final double[] partial;
  private final float[] staged;
  private int inPartial;
  private int stagedRows;
  private long rowsSeen;
  private long vectorsUsed;
  private boolean finished;

  /**
   * @param n the total number of gradient rows that will be passed (the n of 1/n)
   * @param pool the executor for block-parallel work, or null for the calling thread
   */
  public FisherAccumulator(
      BlockLayout layout, int fromBlock, int toBlock, long n, BuildOptions options, ExecutorService pool) {
    if (fromBlock < 0 || toBlock > layout.blockCount() || fromBlock >= toBlock) {
      throw new IllegalArgumentException(
          "blocks [" + fromBlock + ", " + toBlock + ") outside [0, " + layout.blockCount() + ")");
    }
    if (n < 1) {
      throw dev.lethe.core.LetheException.invalid("samples", "a Fisher needs n >= 1 samples, got " + n);
    }
    this.layout = layout;
    this.fromBlock = fromBlock;
    this.toBlock = toBlock;
    this.n = n;
    this.vectors = (n + options.miniBatch() - 1) / options.miniBatch();
    this.options = options;
    this.pool = pool;
    this.span = layout.end(toBlock - 1) - layout.start(fromBlock);
    this.tasks = pool == null ? 1 : Math.min(options.threads(), toBlock - fromBlock);
    this.gramTasks = Linalg.isNative() ? 1 : tasks;
    this.blocks = new Strategy[toBlock - fromBlock];
    for (int b = fromBlock; b < toBlock; b++) {
      blocks[b - fromBlock] =
          options.method() == InversionMethod.GRAM
              ? new Gram(layout.size(b))
              : new ShermanMorrison(layout.size(b), options.dampening(), vectors);
    }
    this.scratch = new Object[tasks];
    int m = options.miniBatch();
    this.partial = m > 1 ? new double[span] : null;
    this.staged = m > 1 ? new float[options.batchRows() * span] : null;
  }

  /** Heap bytes one block's accumulator takes (what the memory budget counts). */
  public static long accumulatorBytes(InversionMethod method, int blockSize) {
    long b = method == InversionMethod.GRAM ? GramKernel.padded(blockSize) : blockSize;
    return 8L * b * b;
  }

  public int fromColumn() {
    return layout.start(fromBlock);
  }

  public int toColumn() {
    return layout.end(toBlock - 1);
  }

  /** Rows accepted so far. */
  public long rowsSeen() {
    return rowsSeen;
  }

  /**
   * Adds {@code count} rows (row-major [count, toColumn − fromColumn]). rows is not modified.
   *
   * @throws IllegalArgumentException if rows is too short or more than n rows arrive in all
   */
  public void accept(float[] rows, int count) {
    if (finished) {
      throw new IllegalStateException("accumulator already finished");
    }
    if (count < 0 || (long) count * span > rows.length) {
      throw new IllegalArgumentException("rows: " + count + " x " + span + " exceeds " + rows.length);
    }
    if (rowsSeen + count > n) {
      throw dev.lethe.core.LetheException.invalid(
          "samples", "more than the " + n + " announced gradient rows");
    }
    rowsSeen += count;
    if (partial == null) {
      for (int r = 0; r < count; r += options.batchRows()) {
        dispatch(rows, r, Math.min(options.batchRows(), count - r));
      }
      return;
    }
    int m = options.miniBatch();
    for (int r = 0; r < count; r++) {
      for (int c = 0, src = r * span; c < span; c++) {
        partial[c] += rows[src + c];
      }
      if (++inPartial == m) {
        stagePartial();
      }
    }
  }

  private void stagePartial() {
    int dst = stagedRows * span;
    for (int c = 0; c < span; c++) {
      staged[dst + c] = (float) (partial[c] / inPartial);
      partial[c] = 0;
    }
    inPartial = 0;
    if (++stagedRows == options.batchRows()) {
      dispatch(staged, 0, stagedRows);
      stagedRows = 0;
    }
  }

  /**
   * Inverts every block (F_b = λI + A_b/N for gram) and hands each to {@code sink}, releasing
   * its accumulator. Call once, after exactly n rows.
   *
   * @throws dev.lethe.core.LetheException INVALID_ARGUMENT when fewer than n rows arrived, or
   *     (dampening) when a block is not positive definite, naming the block
   */
  public void finish(BlockSink sink) {
    if (finished) {
      throw new IllegalStateException("accumulator already finished");
    }
    if (rowsSeen != n) {
      throw dev.lethe.core.LetheException.invalid(
          "samples", "expected " + n + " gradient rows, got " + rowsSeen);
    }
    if (partial != null) {
      if (inPartial > 0) {
        stagePartial();
      }
      if (stagedRows > 0) {
        dispatch(staged, 0, stagedRows);
        stagedRows = 0;
      }
    }
    if (vectorsUsed != vectors) {
      throw new IllegalStateException("used " + vectorsUsed + " vectors, expected " + vectors);
    }
    finished = true;
    runTasks(tasks, t -> {
      for (int i = t; i < blocks.length; i += tasks) {
        int b = fromBlock + i;
        double[] inverse = blocks[i].inverse(b, layout, options.dampening(), vectors, sink);
        blocks[i] = null;
        sink.accept(b, inverse);
      }
    });
  }

  private void dispatch(float[] rows, int firstRow, int k) {
    vectorsUsed += k;
    int rowOffset = firstRow * span;
    int base = layout.start(fromBlock);
    // A native BLAS threads each Gram update itself: then blocks go one after another.
    int parallel = gramTasks;
    runTasks(parallel, t -> {
      for (int i = t; i < blocks.length; i += parallel) {
        int b = fromBlock + i;
        scratch[t] = blocks[i].add(rows, rowOffset, k, span, layout.start(b) - base, scratch[t], options.batchRows());
      }
    });
  }

  private interface Task {
    void run(int t);
  }

  private void runTasks(int count, Task task) {
    if (count == 1) {
      task.run(0);
      return;
    }
    List<Future<?>> futures = new ArrayList<>(count);
    for (int t = 0; t < count; t++) {
      int id = t;
      futures.add(pool.submit((Callable<Void>) () -> {
        task.run(id);
        return null;
      }));
    }
    Futures.awaitAll(futures, "building the Fisher");
  }

  /** One block's accumulation. */
  private interface Strategy {
    /** Adds k rows (from rows[rowOffset], stride span, the block at column offset); returns scratch. */
    Object add(float[] rows, int rowOffset, int k, int span, int offset, Object scratch, int maxK);

    /** F_b⁻¹; a strategy that has F_b hands it to {@code sink.acceptFisher} first. */
    double[] inverse(int block, BlockLayout layout, double dampening, long vectors, BlockSink sink);
  }

  static String describe(BlockLayout layout, int b) {
    return "Fisher block " + b + " (entries [" + layout.start(b) + ", " + layout.end(b) + "))";
  }

  /** A = Σ g gᵀ in double (upper triangle, padded to a multiple of 4). */
  private static final class Gram implements Strategy {
    private final int b;
    private final int b4;
    private final double[] a;

    Gram(int b) {
      this.b = b;
      this.b4 = GramKernel.padded(b);
      this.a = new double[b4 * b4];
    }

    @Override
    public Object add(float[] rows, int rowOffset, int k, int span, int offset, Object scratch, int maxK) {
      double[] gt =
          scratch instanceof double[] d && d.length >= b4 * k ? d : new double[b4 * Math.max(k, maxK)];
      // Rows that are zero on this block add nothing: a TRUE Fisher's per-attribute rows of a
      // linear multi-attribute model touch one block each, and a zero input pixel zeroes a whole
      // row of the first layer's weights.
      Linalg.gramUpdate(rows, k, span, offset + rowOffset, b, gt, a);
      return gt;
    }

    @Override
    public double[] inverse(int block, BlockLayout layout, double dampening, long vectors,
        BlockSink sink) {
      double[] f = BlockGrams.fisher(a, b4, b, vectors, dampening);
      sink.acceptFisher(block, f);
      return BlockInversion.invert(f, b, describe(layout, block), dampening);
    }
  }

  /** F⁻¹ directly, by the rank-1 recursion from I/λ (N = number of vectors). */
  private static final class ShermanMorrison implements Strategy {
    private final int b;
    private final double[] inv;
    private final double count;

    ShermanMorrison(int b, double dampening, long vectors) {
      this.b = b;
      this.inv = new double[b * b];
      this.count = vectors;
      for (int i = 0; i < b; i++) {
        inv[i * b + i] = 1.0 / dampening;
      }
    }

    @Override
    public Object add(float[] rows, int rowOffset, int k, int span, int offset, Object scratch, int maxK) {
      double[] work = scratch instanceof double[] d && d.length >= 2 * b ? d : new double[2 * b];
      for (int r = 0; r < k; r++) {
        int src = rowOffset + r * span + offset;
        for (int c = 0; c < b; c++) {
          work[c] = rows[src + c];
        }
        // u = F⁻¹g (stored after g), then F⁻¹ -= u uᵀ / (N + gᵀu)
        double gu = 0;
        for (int i = 0; i < b; i++) {
          double s = 0;
          for (int j = 0, p = i * b; j < b; j++, p++) {
            s += inv[p] * work[j];
          }
          work[b + i] = s;
          gu += work[i] * s;
        }
        double scale = 1.0 / (count + gu);
        for (int i = 0; i < b; i++) {
          double ui = work[b + i] * scale;
          for (int j = 0, p = i * b; j < b; j++, p++) {
            inv[p] -= ui * work[b + j];
          }
        }
      }
      return work;
    }

    @Override
    public double[] inverse(int block, BlockLayout layout, double dampening, long vectors,
        BlockSink sink) {
      for (double x : inv) {
        if (!Double.isFinite(x)) {
          throw BlockInversion.notPositiveDefinite(describe(layout, block), dampening);
        }
      }
      return inv;
    }
  }
}
