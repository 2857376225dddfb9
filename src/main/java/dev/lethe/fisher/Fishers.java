package dev.lethe.fisher;

import dev.lethe.core.DaemonThreads;
import dev.lethe.core.LetheException;
import dev.lethe.core.MemoryPool;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;

/**
 * Lethe's curvature: builds Fishers ({@link #startBuild}; a Fisher no kept version references
 * any more after the new one is attached is deleted), applies them ({@link #solver}) and
 * solves and downdates them without an erase's samples ({@link #leaveOut}), over the RocksDB {@link FisherStore}.
 *
 * <p>Owns the one Fisher worker pool (builds, applies and downdates share it) and keeps the most
 * recently used {@link FisherInverse} of each model open, closing the previous one when a model
 * moves to another Fisher (a downdate, a rebuild, a rollback). Erases on one model are
 * serialised by the store, so a model's Fisher is never closed while one of its erases applies
 * it. Thread-safe. {@link #close()} before the database closes.
 */
public final class Fishers implements AutoCloseable {
  private final FisherStore store;
  private final int threads;
  private final long buildBudgetBytes;
  private final MemoryPool buildMemory;
  private final Path spillDir;
  private final ExecutorService pool;
  private final ConcurrentHashMap<String, OpenFisher> open = new ConcurrentHashMap<>();
  private final ProjectedWeights projected = new ProjectedWeights();
  private final KroneckerPartCache parts;
  private final long storageBudgetBytes;

  /** AUTO's default storage budget for a block-diagonal Fisher (F⁻¹ and F): 4 GiB. */
  public static final long DEFAULT_STORAGE_BUDGET = 4L << 30;

  /**
   * @param threads the pool's size: tasks per build pass, apply and downdate
   * @param buildBudgetBytes heap for the accumulators of all builds running at once
   *     (--fisher-memory-bytes): a build reserves what its blocks need, or what is free if less
   *     (it then makes more passes over a spill of the samples), and returns it when it ends
   * @param spillDir where multi-pass builds keep their temporary sample files
   */
  public Fishers(FisherStore store, int threads, long buildBudgetBytes, Path spillDir) {
    this(store, threads, buildBudgetBytes, spillDir, DEFAULT_STORAGE_BUDGET);
  }

  /**
   * As above, with AUTO's storage budget ({@code --fisher-storage-budget-bytes}): a build whose
   * structure is AUTO is block-diagonal while that Fisher's stored bytes fit it, else EKFAC.
   */
  public Fishers(FisherStore store, int threads, long buildBudgetBytes, Path spillDir,
      long storageBudgetBytes) {
    if (storageBudgetBytes < 1) {
      throw new IllegalArgumentException("--fisher-storage-budget-bytes must be >= 1");
    }
    this.storageBudgetBytes = storageBudgetBytes;
    this.store = store;
    this.threads = threads;
    this.buildBudgetBytes = buildBudgetBytes;
    this.buildMemory = new MemoryPool("Fisher accumulator", "--fisher-memory-bytes", buildBudgetBytes);
    this.parts = new KroneckerPartCache(buildMemory);
    this.spillDir = spillDir;
    this.pool = DaemonThreads.pool("fisher", threads);
  }

  public FisherStore store() {
    return store;
  }

  /**
   * Starts a build for {@code target} (resolved by the store) with the request's options.
   *
   * @throws LetheException INVALID_ARGUMENT naming a bad option; RESOURCE_EXHAUSTED (naming
   *     options.block_size and --fisher-memory-bytes) when not even one block's accumulator fits
   *     the Fisher memory left free by builds in progress
   */
  public FisherBuild startBuild(FisherTarget target, FisherRequest request) {
    BuildPlan wanted = BuildPlan.resolve(target, request, buildBudgetBytes, threads,
        storageBudgetBytes);
    if (wanted.kronecker() != null) {
      return startKronecker(target, wanted);
    }
    wanted.passes(); // refuses a block larger than the whole Fisher memory
    parts.makeRoom(wanted.accumulatorBytes());
    MemoryPool.Reservation memory = buildMemory.reserveUpTo(wanted.accumulatorBytes(),
        wanted.largestAccumulatorBytes(), "options.block_size",
        "Fisher accumulators of blocks of up to " + wanted.layout().largestBlock() + " entries");
    try {
      BuildPlan plan = wanted.withMemoryBudget(memory.bytes());
      RowSource rows = new FisherRows(target.view(), plan.kind(), plan.draws(), plan.seed());
      return FisherBuild.start(plan, rows, store::create, pool, spillDir, target::attach).holding(memory);
    } catch (RuntimeException | Error e) {
      memory.close();
      throw e;
    }
  }

  /**
   * Starts finishing a Fisher from sums computed elsewhere (PutFisherSums; see
   * {@link FisherSums}) for {@code target}: the blocks in progress are reserved from the Fisher
   * memory builds use.
   *
   * @throws LetheException as {@link FisherSums#start}
   */
  public FisherSums startSums(FisherTarget target, FisherSums.Header header) {
    parts.clear();
    return FisherSums.start(target, header, store::create, buildMemory, pool, threads);
  }

  /**
   * A KFAC/EKFAC build: its factors and the other parameters' accumulators must fit the Fisher
   * memory at once (one pass for the factors; EKFAC's second replays a spill).
   */
  private FisherBuild startKronecker(FisherTarget target, BuildPlan plan) {
    long need = plan.factorBytes() + plan.accumulatorBytes();
    parts.makeRoom(need);
    MemoryPool.Reservation memory = buildMemory.reserveUpTo(need, need, "options.structure",
        "the Kronecker factors of " + plan.kronecker().layers().size() + " layers and the other"
        + " parameters' blocks");
    try {
      FisherRows rows = new FisherRows(target.view(), plan.kind(), plan.draws(), plan.seed());
      return FisherBuild.startKronecker(plan, rows, target.view(), store, pool, spillDir,
          target::attach).holding(memory).afterwards(id -> warm(target, id));
    } catch (RuntimeException | Error e) {
      memory.close();
      throw e;
    }
  }

  /**
   * After a KFAC/EKFAC build attached: its float32 layers' parts kept and, with an L2 term, θ̃
   * of the built version, so the first erase costs what the next do (best effort).
   */
  private void warm(FisherTarget target, String fisherId) {
    try {
      if (inverse(target.model(), fisherId) instanceof KroneckerInverse kron) {
        float[][] p = kron.warm(target.config().l2() != 0 ? target.view().parameters() : null);
        if (p != null) {
          projected.put(target.model(), ProjectedWeights.basis(kron.header(), fisherId),
              target.version(), p);
        }
      }
    } catch (RuntimeException e) { // the first erase then reads the parts and projects θ
      java.util.logging.Logger.getLogger(Fishers.class.getName())
          .log(java.util.logging.Level.WARNING, "warming Fisher " + fisherId + " failed", e);
    }
  }

  /** AUTO's storage budget (bytes of a block-diagonal Fisher). */
  public long storageBudgetBytes() {
    return storageBudgetBytes;
  }

  /** The Fisher memory (--fisher-memory-bytes) and what builds hold of it now. */
  public MemoryPool buildMemory() {
    return buildMemory;
  }

  /**
   * A solver for the Fisher {@code fisherId} of {@code model}; this object owns it (callers do
   * not close it).
   */
  public FisherSolver solver(String model, String fisherId) {
    return inverse(model, fisherId)::apply;
  }

  private OpenFisher inverse(String model, String fisherId) {
    return open.compute(model, (k, current) -> {
      if (current != null && current.fisherId().equals(fisherId)) {
        return current;
      }
      if (current != null) {
        current.close();
        parts.drop(model);
      }
      FisherHeader h = header(model, fisherId);
      return h.kronecker() != null
          ? new KroneckerInverse(store, model, fisherId, h, pool, threads, parts)
          : store.open(model, fisherId, pool, threads, true);
    });
  }

  /** Fishers held open (one per model at most). */
  int openCount() {
    return open.size();
  }

  /**
   * The header of a stored Fisher.
   *
   * @throws LetheException FAILED_PRECONDITION when there is none
   */
  public FisherHeader header(String model, String fisherId) {
    return store.header(model, fisherId).orElseThrow(
        () -> LetheException.precondition("model " + model + " has no Fisher " + fisherId));
  }

  /**
   * Why a leave-out step (or a downdate) cannot use this Fisher for k samples, or "" when it
   * can: a mini-batch-averaged Fisher has no per-sample terms to remove; a Fisher written
   * before Lethe recorded how its rows are made, or a MONTE_CARLO one whose draws were keyed by
   * stream position, cannot have its samples' rows made again; k ≥ n leaves nothing.
   */
  public static String leaveOutUnavailable(FisherHeader h, long k) {
    if (h.miniBatch() != 1) {
      return "the Fisher averages mini-batches of " + h.miniBatch() + " gradients: a sample's"
          + " share of an average is not an outer product of its own (rebuild with minibatch 1)";
    }
    if (h.rows() == null) {
      return "the Fisher was built before Lethe recorded how its rows are made: rebuild it";
    }
    if (h.kind() == CurvatureKind.MONTE_CARLO && !h.rows().keyedById()) {
      return "the MONTE_CARLO Fisher's draws were seeded by stream position (its BuildFisher"
          + " samples had no ids): rebuild it with the samples' ids";
    }
    if (k >= h.samples()) {
      return "erasing " + k + " samples would leave none of the Fisher's " + h.samples();
    }
    return "";
  }

  /**
   * What a leave-out solve did.
   *
   * @param result x = F₋S⁻¹ g and how the blocks were solved
   * @param downdatedId the new Fisher over the samples that remain, or null when not asked for
   * @param rowsMs computing the erased samples' rows
   * @param step a Kronecker Fisher's solve (for {@link #committed}), else null
   */
  public record LeaveOutRun(LeaveOut.Result result, String downdatedId, double rowsMs,
      KroneckerStep step) {
    LeaveOutRun(LeaveOut.Result result, String downdatedId, double rowsMs) {
      this(result, downdatedId, rowsMs, null);
    }
  }

  /**
   * Solves F₋S x = g for the Fisher {@code fisherId} without the samples {@code erased}, whose
   * rows are made by {@code fisherView} — the model version the Fisher was built at — as the
   * build made them; with {@code downdate} also writes F₋S as a new Fisher (n − k samples,
   * the same build version) and returns its id. The old Fisher is left as it was.
   *
   * @param erased checked samples with ids, labels where the kind needs them
   * @throws LetheException FAILED_PRECONDITION when {@link #leaveOutUnavailable} says why not,
   *     or naming the block whose F₋S is not positive definite (nothing written)
   */
  public LeaveOutRun leaveOut(String model, String fisherId, ModelView fisherView,
      dev.lethe.core.Samples erased, double[] g, boolean downdate) {
    OpenFisher opened = inverse(model, fisherId);
    FisherHeader h = opened.header();
    String why = leaveOutUnavailable(h, erased.size());
    if (!why.isEmpty()) {
      throw LetheException.precondition("leave-out step on Fisher " + fisherId + ": " + why);
    }
    if (opened instanceof KroneckerInverse kron) {
      return kroneckerLeaveOut(model, fisherId, kron, fisherView, erased,
          FactoredGradient.ofDense(h, g), downdate);
    }
    FisherInverse inverse = (FisherInverse) opened;
    RowSource source = FisherRows.recomputing(fisherView, h);
    if (source.rowsPerSample() != h.rows().perSample() || source.columns() != h.layout().parameterCount()) {
      throw LetheException.precondition("Fisher " + fisherId + " has " + h.rows().perSample()
          + " rows of " + h.layout().parameterCount() + " per sample; the model makes "
          + source.rowsPerSample() + " of " + source.columns());
    }
    ErasedRows rows = ErasedRows.of(source, erased, CHUNK_BYTES);
    // The rows of S (for one group of blocks at a time) and each task's block work space (one
    // dense block of doubles) come out of the Fisher memory that builds use too: as much as is
    // free, at least one block's rows and one task; fewer tasks run when less is free.
    int largest = h.layout().largestBlock();
    long taskBytes = (long) largest * largest * Double.BYTES;
    long perColumn = (long) erased.size() * source.rowsPerSample() * Float.BYTES;
    parts.makeRoom(perColumn * h.layout().parameterCount() + threads * taskBytes);
    try (MemoryPool.Reservation memory = buildMemory.reserveUpTo(
        perColumn * h.layout().parameterCount() + threads * taskBytes,
        perColumn * largest + taskBytes,
        "samples", "the leave-out rows of " + erased.size() + " erased samples")) {
      int tasks = (int) Math.max(1, Math.min(threads,
          (memory.bytes() - perColumn * largest) / taskBytes));
      long rowBudget = memory.bytes() - tasks * taskBytes;
      if (!downdate) {
        LeaveOut.Result result = LeaveOut.solve(inverse, rows, g, null, pool, tasks,
            rowBudget, LeaveOut.Path.AUTO);
        return new LeaveOutRun(result, null, rows.nanos() / 1e6);
      }
      return downdate(model, fisherId, inverse, h, rows, g, rowBudget, tasks, erased.size());
    }
  }

  /** The leave-out solve that also writes F₋S as a new Fisher (see {@link #leaveOut}). */
  private LeaveOutRun downdate(String model, String fisherId, FisherInverse inverse,
      FisherHeader h, ErasedRows rows, double[] g, long rowBudget, int tasks, int k) {
    String to = downdatedId(fisherId);
    FisherHeader target = new FisherHeader(h.layout(), h.dampening(), h.samples() - k,
        1, h.kind(), h.method(), true, h.modelVersion(), null, FisherHeader.PACKED_UPPER_F32_LE,
        h.rows(), true);
    try (FisherStore.Writer writer = store.create(model, to, target)) {
      LeaveOut.Result result = LeaveOut.solve(inverse, rows, g, writer, pool, tasks,
          rowBudget, LeaveOut.Path.REFACTOR);
      writer.commit();
      return new LeaveOutRun(result, to, rows.nanos() / 1e6);
    }
  }

  /**
   * {@link #leaveOut} for a KFAC/EKFAC Fisher with the erase's factored gradient sum (see
   * {@link FactoredGradient}); the step's θ̃ of g's version is kept for the next erase.
   */
  public LeaveOutRun leaveOut(String model, String fisherId, ModelView fisherView,
      dev.lethe.core.Samples erased, FactoredGradient g, boolean downdate) {
    OpenFisher opened = inverse(model, fisherId);
    String why = leaveOutUnavailable(opened.header(), erased.size());
    if (!why.isEmpty()) {
      throw LetheException.precondition("leave-out step on Fisher " + fisherId + ": " + why);
    }
    if (!(opened instanceof KroneckerInverse kron)) {
      return leaveOut(model, fisherId, fisherView, erased, g.dense(), downdate);
    }
    return kroneckerLeaveOut(model, fisherId, kron, fisherView, erased, g, downdate);
  }

  /**
   * F⁻¹g for an erase's factored gradient sum through the Fisher {@code fisherId} (KFAC/EKFAC
   * layer by layer; a block-diagonal Fisher applies {@link FactoredGradient#dense()}).
   */
  public KroneckerStep apply(String model, String fisherId, FactoredGradient g) {
    OpenFisher opened = inverse(model, fisherId);
    if (!(opened instanceof KroneckerInverse kron)) {
      double[] x = new double[(int) opened.header().parameterCount()];
      opened.apply(g.dense(), x);
      return new KroneckerStep(x, null, g.version(), null, null);
    }
    String basis = ProjectedWeights.basis(kron.header(), fisherId);
    return remembered(model, kron.apply(g, projected.get(model, basis, g.version()), basis));
  }

  /**
   * After an erase from {@code step}'s version committed {@code toVersion} = θ + scale·x: keeps
   * θ̃ of the new version (θ̃ + scale·M per large layer), so the next erase need not project
   * the weights. A step without projected weights is ignored.
   */
  public void committed(String model, KroneckerStep step, long toVersion, double scale) {
    if (step == null || !step.derivable()) {
      return;
    }
    float[][] next = new float[step.projected().length][];
    for (int l = 0; l < next.length; l++) {
      if (step.projected()[l] != null && step.middle()[l] != null) {
        next[l] = KroneckerLargeSolve.next(step.projected()[l], step.middle()[l], scale);
      }
    }
    projected.put(model, step.basis(), toVersion, next);
  }

  /** Projected-weight entries ({@link ProjectedWeights}) held now, over all models. */
  public int projectedEntries() {
    return projected.size();
  }

  /** Bytes of Kronecker parts kept in memory now ({@link KroneckerPartCache}). */
  public long keptPartBytes() {
    return parts.bytes();
  }

  /** Erases that found their version's projected weights kept, since start. */
  public long projectedHits() {
    return projected.hits();
  }

  private KroneckerStep remembered(String model, KroneckerStep step) {
    if (step.derivable()) {
      projected.put(model, step.basis(), step.version(), step.projected());
    }
    return step;
  }

  private LeaveOutRun kroneckerLeaveOut(String model, String fisherId, KroneckerInverse inverse,
      ModelView fisherView, dev.lethe.core.Samples erased, FactoredGradient g, boolean downdate) {
    FisherHeader h = inverse.header();
    long t = System.nanoTime();
    LayerInputs same = g.fisherRows(h, erased); // the gradient pass's, when the same rows
    boolean reused = same != null;
    LayerInputs in = reused ? same : KroneckerLeaveOut.inputs(fisherView, h, erased);
    double rowsMs = (System.nanoTime() - t) / 1e6;
    int largest = h.layout().largestBlock();
    long taskBytes = (long) largest * largest * Double.BYTES;
    long rows = (long) in.rows() * in.otherColumns() * Float.BYTES;
    String basis = ProjectedWeights.basis(h, fisherId);
    float[][] known = projected.get(model, basis, g.version());
    parts.makeRoom(rows + threads * taskBytes);
    try (MemoryPool.Reservation memory = buildMemory.reserveUpTo(rows + threads * taskBytes,
        rows + taskBytes, "samples", "the leave-out rows of " + erased.size() + " erased samples")) {
      int tasks = taskBytes == 0 ? 1 : (int) Math.max(1, Math.min(threads,
          (memory.bytes() - rows) / taskBytes));
      long rowBudget = Math.max(1, memory.bytes() - tasks * taskBytes);
      if (!downdate) {
        KroneckerLeaveOut.Solved s = KroneckerLeaveOut.solve(inverse, in, erased.size(), g,
            known, basis, null, pool, tasks, rowBudget, reused);
        return new LeaveOutRun(s.result(), null, rowsMs, remembered(model, s.step()));
      }
      String to = downdatedId(fisherId);
      try (FisherStore.Writer writer = store.create(model, to, h.downdatedTo(h.samples() - erased.size()))) {
        KroneckerLeaveOut.Solved s = KroneckerLeaveOut.solve(inverse, in, erased.size(), g,
            known, basis, writer, pool, tasks, rowBudget, reused);
        writer.commit();
        return new LeaveOutRun(s.result(), to, rowsMs, remembered(model, s.step()));
      }
    }
  }

  private static String downdatedId(String fisherId) {
    byte[] tag = new byte[4];
    new Random().nextBytes(tag);
    return rootId(fisherId) + "-d" + HexFormat.of().formatHex(tag);
  }

  /** The id of the Fisher a downdated one descends from (its "-d…" suffix removed). */
  static String rootId(String fisherId) {
    return fisherId.replaceAll("-d[0-9a-f]{8}$", "");
  }

  /** Gradient bytes held at once while making an erase's rows. */
  private static final long CHUNK_BYTES = 64L << 20;

  /**
   * Deletes the spill files a build killed mid-way left behind (raw training samples). Call at
   * start, before any build; returns how many were deleted.
   */
  public int sweepSpills() {
    try {
      return SampleSpill.sweep(spillDir);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("sweeping spill files in " + spillDir, e);
    }
  }

  /** Closes every open Fisher and stops the pool. Idempotent. */
  @Override
  public void close() {
    open.values().forEach(OpenFisher::close);
    open.clear();
    parts.clear();
    pool.shutdownNow();
  }
}
