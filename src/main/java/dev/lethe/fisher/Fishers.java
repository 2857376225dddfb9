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
 * removes erased samples from them ({@link #downdate}), over the RocksDB {@link FisherStore}.
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
  private final ConcurrentHashMap<String, FisherInverse> open = new ConcurrentHashMap<>();

  /**
   * @param threads the pool's size: tasks per build pass, apply and downdate
   * @param buildBudgetBytes heap for the accumulators of all builds running at once
   *     (--fisher-memory-bytes): a build reserves what its blocks need, or what is free if less
   *     (it then makes more passes over a spill of the samples), and returns it when it ends
   * @param spillDir where multi-pass builds keep their temporary sample files
   */
  public Fishers(FisherStore store, int threads, long buildBudgetBytes, Path spillDir) {
    this.store = store;
    this.threads = threads;
    this.buildBudgetBytes = buildBudgetBytes;
    this.buildMemory = new MemoryPool("Fisher accumulator", "--fisher-memory-bytes", buildBudgetBytes);
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
    BuildPlan wanted = BuildPlan.resolve(target, request, buildBudgetBytes, threads);
    wanted.passes(); // refuses a block larger than the whole Fisher memory
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

  /** The Fisher memory (--fisher-memory-bytes) and what builds hold of it now. */
  public MemoryPool buildMemory() {
    return buildMemory;
  }

  /**
   * A solver for the Fisher {@code fisherId} of {@code model}; this object owns it (callers do
   * not close it).
   */
  public FisherSolver solver(String model, String fisherId) {
    FisherInverse inverse = open.compute(model, (k, current) -> {
      if (current != null && current.fisherId().equals(fisherId)) {
        return current;
      }
      if (current != null) {
        current.close();
      }
      return store.open(model, fisherId, pool, threads, true);
    });
    return inverse::apply;
  }

  /** Fishers held open (one per model at most). */
  int openCount() {
    return open.size();
  }

  /**
   * Writes a new Fisher equal to {@code fisherId} rebuilt without the samples whose gradients
   * are {@code rows} (k arrays of P floats, at the weights the Fisher was built at) and returns
   * its id; the old Fisher is left as it was.
   *
   * @throws LetheException FAILED_PRECONDITION when the Fisher is missing or not EMPIRICAL
   */
  public String downdate(String model, String fisherId, float[][] rows) {
    FisherHeader header = store.header(model, fisherId).orElseThrow(
        () -> LetheException.precondition("model " + model + " has no Fisher " + fisherId));
    if (header.kind() != CurvatureKind.EMPIRICAL) {
      throw LetheException.precondition("downdate_fisher: Fisher " + fisherId + " is "
          + header.kind() + "; only an EMPIRICAL Fisher is a sum of the samples' own gradients");
    }
    byte[] tag = new byte[4];
    new Random().nextBytes(tag);
    String to = fisherId.replaceAll("-d[0-9a-f]{8}$", "") + "-d" + HexFormat.of().formatHex(tag);
    FisherDowndate.downdate(store, model, fisherId, to, rows, header.modelVersion(), pool, threads);
    return to;
  }

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
    open.values().forEach(FisherInverse::close);
    open.clear();
    pool.shutdownNow();
  }
}
