package dev.lethe.fisher;

import dev.lethe.core.LetheException;
import java.util.ArrayDeque;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A block-diagonal Fisher finished from sums computed elsewhere (the Spark job
 * {@code dev.lethe.spark.FisherJob}): the sidecar never sees a sample. The header is checked
 * against the model version first ({@link #start}); then each block's Gram A_b = Σ r rᵀ arrives as
 * its packed upper triangle in chunks ({@link #accept}) and is finished as a build finishes it —
 * F_b = λI + A_b/N ({@link BlockGrams#fisher}, N = n · rows per sample), {@link BlockInversion},
 * both written to the {@link FisherSink} — on the Fisher pool as soon as its last chunk is in;
 * at most as many blocks are in flight as the reserved Fisher memory holds (one per pool thread
 * when it fits), so the sidecar never holds the whole Fisher. {@link #finish} checks that every block came exactly once, commits the header and
 * attaches the Fisher to its version ({@link FisherTarget#attach}) as BuildFisher does. Any
 * failure, or {@link #close()} before {@link #finish}, removes what was written: nothing attached.
 *
 * <p>Structures: block-diagonal, and {@code kfac}/{@code ekfac}: then the plan is resolved as
 * BuildFisher resolves it ({@link BuildPlan}), the blocks are those of the parameters no dense
 * layer covers, and each layer's factor sums (for EKFAC also the basis the second pass used and
 * its second-moment sums) arrive as {@link KroneckerSums} parts ({@link #acceptKronecker}),
 * stored by the build's own code at {@link #finish}.
 *
 * <p>Not thread-safe (one stream); progress is reported on the calling thread, block work runs on
 * the pool.
 */
public final class FisherSums implements AutoCloseable {

  /**
   * What the sums are (the domain form of the API's FisherSumsHeader).
   *
   * @param version the version whose weights the rows were computed at (required, not 0)
   * @param kind the rows' kind (required)
   * @param structure "", "block_diagonal", "kfac" or "ekfac"
   * @param samples n, the samples summed (must be the version's train_size)
   * @param blockSize B the layout was split with (0 = the spec's)
   * @param blocks the layout's block count
   * @param parameters P
   * @param draws MONTE_CARLO labels per sample (0 = 1; 0 for other kinds)
   * @param seed the MONTE_CARLO seed (draws keyed by (seed, stream position))
   * @param rows rows summed, n · rows per sample
   * @param gradientMoments true when Σ∇l_i follows ({@link #acceptGradient}) for the convergence check
   * @param gradientSquaredNorms Σ|∇l_i|² (with gradientMoments)
   * @param layers KFAC/EKFAC: the dense layers whose parts follow (0 for block-diagonal)
   */
  public record Header(String model, long version, CurvatureKind kind, String structure,
      long samples, int blockSize, int blocks, long parameters, int draws, long seed, long rows,
      boolean gradientMoments, double gradientSquaredNorms, int layers) {
    /** A block-diagonal header. */
    public Header(String model, long version, CurvatureKind kind, String structure,
        long samples, int blockSize, int blocks, long parameters, int draws, long seed, long rows,
        boolean gradientMoments, double gradientSquaredNorms) {
      this(model, version, kind, structure, samples, blockSize, blocks, parameters, draws, seed,
          rows, gradientMoments, gradientSquaredNorms, 0);
    }
  }

  /** One block's Gram as its packed upper triangle ({@link BlockGrams#packedUpper}). */
  public record Block(int index, double[] packedUpper) {}

  /** One part of a dense layer of a KFAC/EKFAC Fisher, whole ({@link KroneckerSums}). */
  public record LayerPart(int layer, KroneckerSums.Part part, double[] values) {}

  private final FisherTarget target;
  private final Header header;
  private final BlockLayout layout;
  private final double dampening;
  private final long vectors;
  private final FisherHeader.Rows rowsMade;
  private final String fisherId;
  private final FisherSink writer;
  private final AutoCloseable memory;
  private final boolean[] done;
  private final double[] gradientSum;
  private final long startNanos = System.nanoTime();
  private long gradientFilled;
  private int open = -1;
  private double[] openBlock;
  private int openFilled;
  private final AtomicInteger blocksDone = new AtomicInteger();
  private final ExecutorService pool;
  private final int maxInFlight;
  private final ArrayDeque<Future<?>> inFlight = new ArrayDeque<>();
  private boolean closed;
  private int reported;
  private final BuildPlan plan;
  private final KroneckerSums kronecker;

  private FisherSums(FisherTarget target, Header h, BlockLayout layout, int perSample,
      FisherSink.Factory sinks, dev.lethe.core.MemoryPool.Reservation memory, long blockBytes,
      ExecutorService pool, BuildPlan plan) {
    this.target = target;
    this.plan = plan;
    this.pool = pool;
    long factors = plan == null ? 0 : 2 * plan.factorBytes();
    this.maxInFlight = (int) Math.max(1, (memory.bytes() - factors) / blockBytes);
    this.header = h;
    this.layout = layout;
    this.dampening = target.config().dampening();
    this.vectors = h.rows();
    this.rowsMade = new FisherHeader.Rows(perSample, Math.max(1, h.draws()), h.seed(), false);
    byte[] tag = new byte[4];
    new Random().nextBytes(tag);
    this.fisherId = "v" + h.version() + "-" + (plan == null ? "" : plan.structure().id() + "-")
        + h.kind().name().toLowerCase() + "-sums-"
        + HexFormat.of().formatHex(tag);
    this.done = new boolean[layout.blockCount()];
    this.gradientSum = h.gradientMoments() ? new double[(int) h.parameters()] : null;
    this.memory = memory;
    Kronecker k = plan == null ? null : plan.kronecker();
    this.kronecker = k == null ? null : new KroneckerSums(k);
    this.writer = sinks.create(target.model(), fisherId, k == null
        ? new FisherHeader(layout, dampening, h.samples(), 1, h.kind(), InversionMethod.GRAM, false,
            target.version(), null, rowsMade)
        : new FisherHeader(layout, dampening, h.samples(), 1, h.kind(), InversionMethod.GRAM, false,
            target.version(), null, FisherHeader.PACKED_UPPER_F32_LE, rowsMade, true, k));
    if (k != null && !(writer instanceof FisherStore.Writer)) {
      writer.close();
      throw new IllegalArgumentException("a Kronecker-factored Fisher is written to a FisherStore");
    }
  }

  /**
   * Checks {@code h} against {@code target} (before anything is written) and opens the Fisher's
   * sink.
   *
   * @param memory the Fisher memory the blocks in progress (each: its sums, Gram, F and F⁻¹) are
   *     reserved from: one per pool thread, or as many as are free (at least one)
   * @param pool where blocks are inverted and stored, or null for the calling thread
   * @param threads the pool's size
   * @throws LetheException INVALID_ARGUMENT naming the header field that does not match the
   *     model version; UNIMPLEMENTED for a structure other than block-diagonal;
   *     RESOURCE_EXHAUSTED when the largest block does not fit the Fisher memory
   */
  static FisherSums start(FisherTarget target, Header h, FisherSink.Factory sinks,
      dev.lethe.core.MemoryPool memory, ExecutorService pool, int threads) {
    String structure = h.structure() == null ? "" : h.structure().toLowerCase(java.util.Locale.ROOT);
    boolean kron = structure.equals("kfac") || structure.equals("ekfac");
    if (!kron && !structure.isEmpty() && !structure.equals("block_diagonal")) {
      throw LetheException.invalid("header.structure", "must be \"\", \"block_diagonal\", \"kfac\""
          + " or \"ekfac\", got '" + h.structure() + "'");
    }
    if (h.kind() == null) {
      throw LetheException.invalid("header.fisher_kind",
          "required: EMPIRICAL, TRUE or MONTE_CARLO, the kind of the rows summed");
    }
    if (h.version() == 0) {
      throw LetheException.invalid("header.version",
          "required: the version whose weights the sums were computed at");
    }
    if (h.samples() != target.trainSize()) {
      throw LetheException.invalid("header.samples", "the sums cover " + h.samples()
          + " samples; version " + target.version() + " was trained on " + target.trainSize()
          + " (train_size)");
    }
    boolean mc = h.kind() == CurvatureKind.MONTE_CARLO;
    if (h.draws() < 0 || h.draws() > 1000 || (h.draws() > 0 && !mc)) {
      throw LetheException.invalid("header.monte_carlo_draws",
          "must be 0 or, for MONTE_CARLO, in [1, 1000]; got " + h.draws());
    }
    if (h.blockSize() < 0) {
      throw LetheException.invalid("header.block_size", "must be >= 0 (0 = the spec's), got "
          + h.blockSize());
    }
    int b = h.blockSize() > 0 ? h.blockSize() : target.config().blockSize();
    BuildPlan plan = null;
    BlockLayout layout = BlockLayout.forParameters(target.view().parameterShapes(), b);
    long total = layout.parameterCount();
    if (kron) {
      plan = KroneckerSums.plan(target, h, b, structure.equals("kfac")
          ? FisherStructure.KFAC : FisherStructure.EKFAC);
      layout = plan.layout();
    } else if (h.layers() != 0) {
      throw LetheException.invalid("header.kronecker_layers", "must be 0 here, got " + h.layers());
    }
    if (h.parameters() != total) {
      throw LetheException.invalid("header.parameters", "the sums are over " + h.parameters()
          + " parameters; the model has " + total);
    }
    if (h.blocks() != layout.blockCount()) {
      throw LetheException.invalid("header.blocks", h.blocks() + " blocks announced; block size "
          + b + " splits the model's " + (kron ? "parameters outside the dense layers" : "parameters")
          + " into " + layout.blockCount());
    }
    int perSample = BlockGrams.rows(target.view(), h.kind(), h.draws(), h.seed()).rowsPerSample();
    if (h.rows() != h.samples() * perSample) {
      throw LetheException.invalid("header.rows", h.rows() + " rows summed; " + h.samples()
          + " samples of kind " + h.kind() + " make " + h.samples() * perSample
          + " (" + perSample + " per sample)");
    }
    if (h.gradientMoments() && !(h.gradientSquaredNorms() >= 0
        && Double.isFinite(h.gradientSquaredNorms()))) {
      throw LetheException.invalid("header.gradient_squared_norms",
          "must be finite and >= 0, got " + h.gradientSquaredNorms());
    }
    long largest = Math.max(1, layout.largestBlock());
    // packed sums (b²/2), the unpacked Gram, F and F⁻¹ (b² each): about 4 · 8 · b² bytes
    long blockBytes = 4 * 8 * largest * largest;
    int parallel = pool == null ? 1 : Math.max(1, Math.min(threads, layout.blockCount()));
    // the layers' parts are held at once, as a build holds its factors (sums and copies)
    long factors = plan == null ? 0 : 2 * plan.factorBytes();
    dev.lethe.core.MemoryPool.Reservation held = memory.reserveUpTo(factors + parallel * blockBytes,
        factors + blockBytes, kron ? "header.structure" : "header.block_size", kron
        ? "the Kronecker factors of the model's dense layers and blocks of up to " + largest
            + " entries" : "Fisher blocks of up to " + largest + " entries (their sums, Gram, F and F⁻¹)");
    try {
      return new FisherSums(target, h, layout, perSample, sinks, held, blockBytes, pool, plan);
    } catch (RuntimeException | Error e) {
      held.close();
      throw e;
    }
  }

  public int blocksTotal() {
    return layout.blockCount() + (kronecker == null ? 0 : kronecker.units());
  }

  /** Progress so far (n samples summed, blocks finished). */
  public FisherProgress progress() {
    return new FisherProgress(header.samples(), blocksDone.get(), blocksTotal(), false, null);
  }

  /**
   * Takes a chunk of block {@code block}'s packed upper Gram ({@link BlockGrams#packedUpper})
   * starting at {@code offset}; a block's chunks come in order, one block at a time. The chunk
   * that completes a block inverts and stores it.
   *
   * @return progress when more blocks are finished than last reported, else null
   * @throws LetheException INVALID_ARGUMENT naming block.block, block.offset or block.values;
   *     INVALID_ARGUMENT (dampening) for a block that is not positive definite
   */
  public FisherProgress accept(int block, long offset, double[] values) {
    if (block < 0 || block >= done.length) {
      throw LetheException.invalid("block.block", "must be in [0, " + done.length + "), got " + block);
    }
    if (done[block]) {
      throw LetheException.invalid("block.block", "block " + block + " was sent twice");
    }
    if (open >= 0 && open != block) {
      throw LetheException.invalid("block.block", "block " + block + " began before block " + open
          + " was complete (send each block's chunks together, in order)");
    }
    int size = layout.size(block);
    int length = BlockGrams.packedLength(size);
    if (open < 0) {
      open = block;
      openBlock = new double[length];
      openFilled = 0;
    }
    if (offset != openFilled) {
      throw LetheException.invalid("block.offset", "block " + block + " continues at " + openFilled
          + ", got " + offset);
    }
    if (values.length == 0 || openFilled + (long) values.length > length) {
      throw LetheException.invalid("block.values", "block " + block + " of " + size
          + " entries has " + length + " packed sums; this chunk brings " + openFilled + " + "
          + values.length);
    }
    for (int i = 0; i < values.length; i++) {
      if (!Double.isFinite(values[i])) {
        throw LetheException.invalid("block.values", "block " + block + " sum " + (offset + i)
            + " is not finite (" + values[i] + ")");
      }
    }
    System.arraycopy(values, 0, openBlock, openFilled, values.length);
    openFilled += values.length;
    if (openFilled < length) {
      return null;
    }
    finishBlock(block, size);
    int now = blocksDone.get();
    if (now == reported) {
      return null;
    }
    reported = now;
    return progress();
  }

  /** Checks a complete block here and inverts and stores it on the pool. */
  private void finishBlock(int block, int size) {
    double[] packed = openBlock;
    for (int i = 0, o = 0; i < size; o += size - i, i++) {
      if (!(packed[o] >= 0)) {
        throw LetheException.invalid("block.values", "block " + block + " has a negative sum of"
            + " squares on its diagonal (entry " + i + "): not a Gram of rows");
      }
    }
    openBlock = null;
    open = -1;
    done[block] = true;
    while (inFlight.size() >= maxInFlight
        || (!inFlight.isEmpty() && inFlight.peekFirst().isDone())) {
      Futures.awaitAll(List.of(inFlight.removeFirst()), "finishing the Fisher's blocks");
    }
    Runnable work = () -> store(block, size, packed);
    if (pool == null) {
      work.run();
    } else {
      inFlight.add(pool.submit(work));
    }
  }

  private void store(int block, int size, double[] packed) {
    double[] a = new double[size * size];
    for (int i = 0, o = 0; i < size; o += size - i, i++) {
      System.arraycopy(packed, o, a, i * size + i, size - i);
    }
    double[] f = BlockGrams.fisher(a, size, size, vectors, dampening);
    writer.acceptFisher(block, f);
    writer.accept(block, BlockInversion.invert(f, size,
        FisherAccumulator.describe(layout, block), dampening));
    blocksDone.incrementAndGet();
  }

  /** Waits for the blocks in flight; rethrows the first failure. */
  private void awaitBlocks() {
    List<Future<?>> all = List.copyOf(inFlight);
    inFlight.clear();
    Futures.awaitAll(all, "finishing the Fisher's blocks");
  }

  /**
   * Takes a chunk of Σ∇l_i (P doubles in all, in order) for the convergence check.
   *
   * @throws LetheException INVALID_ARGUMENT naming gradient_sum.offset or gradient_sum.values
   */
  public void acceptGradient(long offset, double[] values) {
    if (gradientSum == null) {
      throw LetheException.invalid("gradient_sum", "sent, but header.gradient_moments is false");
    }
    if (offset != gradientFilled) {
      throw LetheException.invalid("gradient_sum.offset", "continues at " + gradientFilled
          + ", got " + offset);
    }
    if (gradientFilled + values.length > gradientSum.length) {
      throw LetheException.invalid("gradient_sum.values", "the model has " + gradientSum.length
          + " parameters; the chunks bring " + (gradientFilled + values.length));
    }
    for (int i = 0; i < values.length; i++) {
      if (!Double.isFinite(values[i])) {
        throw LetheException.invalid("gradient_sum.values", "entry " + (offset + i)
            + " is not finite (" + values[i] + ")");
      }
    }
    System.arraycopy(values, 0, gradientSum, (int) gradientFilled, values.length);
    gradientFilled += values.length;
  }

  /**
   * Commits the Fisher and attaches it to its version.
   *
   * @throws LetheException INVALID_ARGUMENT (block) when a block is missing or incomplete,
   *     (gradient_sum) when the announced gradient sum is incomplete; nothing is attached then
   */
  public FisherProgress finish() {
    awaitBlocks();
    if (open >= 0) {
      throw LetheException.invalid("block.values", "block " + open + " ended after " + openFilled
          + " of its " + BlockGrams.packedLength(layout.size(open)) + " sums");
    }
    if (blocksDone.get() != done.length) {
      int missing = 0;
      while (done[missing]) {
        missing++;
      }
      throw LetheException.invalid("block", blocksDone.get() + " of " + done.length
          + " blocks were sent (block " + missing + " is missing): each block exactly once");
    }
    if (gradientSum != null && gradientFilled != gradientSum.length) {
      throw LetheException.invalid("gradient_sum", gradientFilled + " of " + gradientSum.length
          + " entries were sent");
    }
    if (kronecker != null) {
      kronecker.finish((FisherStore.Writer) writer, header.samples(), (double) header.rows());
      blocksDone.addAndGet(kronecker.units());
    }
    Convergence convergence = convergence();
    FisherHeader stored = writer.commit(rowsMade);
    target.attach(fisherId, convergence);
    close();
    return new FisherProgress(header.samples(), blocksDone.get(), blocksTotal(), true,
        new FisherProgress.Summary(fisherId, target.version(), header.samples(), blocksTotal(),
            stored.totalBytes(), header.kind(), InversionMethod.GRAM,
            (System.nanoTime() - startNanos) / 1e9, 0, convergence,
            plan == null ? FisherStructure.BLOCK_DIAGONAL : plan.structure(),
            plan == null ? "" : "requested (sums from PutFisherSums)"));
  }

  /**
   * A chunk of a dense layer's part ({@link KroneckerSums#accept}); INVALID_ARGUMENT naming
   * kronecker_sum after a block-diagonal header.
   */
  public void acceptKronecker(int layer, KroneckerSums.Part part, long offset, double[] values) {
    if (kronecker == null) {
      throw LetheException.invalid("kronecker_sum", "sent, but header.structure is "
          + "block-diagonal; Kronecker parts come with \"kfac\" or \"ekfac\"");
    }
    kronecker.accept(layer, part, offset, values);
  }

  private Convergence convergence() {
    if (gradientSum == null) {
      return Convergence.UNKNOWN;
    }
    long n = header.samples();
    double mean = 0;
    for (double s : gradientSum) {
      mean += (s / n) * (s / n);
    }
    return new Convergence(Math.sqrt(mean), Math.sqrt(header.gradientSquaredNorms() / n));
  }

  /** Removes an unfinished Fisher and returns the memory. Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    openBlock = null;
    // Blocks still being stored must finish before the writer removes what was written.
    for (Future<?> f : inFlight) {
      try {
        f.get();
      } catch (java.util.concurrent.ExecutionException e) {
        // the stream already failed or is being dropped: the first failure was answered
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    inFlight.clear();
    try {
      writer.close();
    } finally {
      try {
        memory.close();
      } catch (Exception e) {
        throw new IllegalStateException("returning the Fisher memory", e);
      }
    }
  }
}
