package dev.lethe.fisher;

import dev.lethe.core.Batches;
import dev.lethe.core.LetheException;
import dev.lethe.core.Memory;
import dev.lethe.core.Samples;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The one Fisher build pipeline, used by the BuildFisher RPC, the benchmarks and the tests:
 * stream session → {@link RowSource} rows → {@link FisherAccumulator} blocks → inversion →
 * {@link FisherSink} (the server's: {@link FisherStore.Writer}) → attach.
 *
 * <p>Options first ({@link #start}), then training batches ({@link #accept}), then
 * {@link #finish}. Rows feed the accumulators of the first group of blocks as batches arrive;
 * when the accumulators of all blocks do not fit the plan's heap budget, the samples also go to
 * a temporary {@link SampleSpill} that is replayed once per further group (rows recomputed), and
 * deleted. The samples are never kept after the build. The finished Fisher is attached to its
 * version.
 *
 * <p>Not thread-safe (one stream). Block work runs on the shared pool given to {@link #start};
 * progress may be reported from its threads. {@link #close()} removes everything of an
 * unfinished build.
 */
public final class FisherBuild implements AutoCloseable {

  private final BuildPlan plan;
  private final RowSource rows;
  private final ExecutorService pool;
  private final BiConsumer<String, Convergence> attach;
  private java.util.function.Consumer<String> afterwards = id -> { };
  private final List<int[]> passes;
  private final FisherSink writer;
  private final String fisherId;
  private final SampleSpill spill;
  private AutoCloseable memory = () -> { };
  private final long chunkBytes = Memory.budget().rowChunkBytes();
  private final long startNanos = System.nanoTime();
  private final Convergence.Moments moments;
  private FisherAccumulator first;
  private final KroneckerBuild kronecker;
  private long seen;
  private int blocksDone;
  private int pass = 1;

  private FisherBuild(BuildPlan plan, RowSource rows, FisherSink.Factory sinks,
      ExecutorService pool, Path spillDir, BiConsumer<String, Convergence> attach) {
    this(plan, rows, null, sinks, pool, spillDir, attach);
  }

  /**
   * @param view the model, for a Kronecker-factored plan (its rows are then a {@link FisherRows}
   *     and the sinks make {@link FisherStore.Writer}s); null otherwise
   */
  private FisherBuild(BuildPlan plan, RowSource rows, ModelView view, FisherSink.Factory sinks,
      ExecutorService pool, Path spillDir, BiConsumer<String, Convergence> attach) {
    Kronecker k = plan.kronecker();
    if (k != null) {
      if (!(rows instanceof FisherRows) || view == null) {
        throw new IllegalArgumentException("a Kronecker-factored build needs a model's rows");
      }
      if (rows.columns() != k.offsets()[k.offsets().length - 1]) {
        throw new IllegalArgumentException("rows have " + rows.columns() + " columns, the model "
            + k.offsets()[k.offsets().length - 1]);
      }
      this.plan = plan;
      this.rows = rows;
      this.pool = pool;
      this.attach = attach;
      this.passes = List.of();
      this.fisherId = newId(plan);
      BuildOptions o = plan.options();
      FisherSink sink = sinks.create(plan.model(), fisherId, new FisherHeader(plan.layout(),
          o.dampening(), plan.samples(), 1, plan.kind(), o.method(), false, plan.version(), null,
          FisherHeader.PACKED_UPPER_F32_LE, rows.header(), true, k));
      this.writer = sink;
      this.spill = null;
      this.moments = null;
      if (!(sink instanceof FisherStore.Writer w)) {
        sink.close();
        throw new IllegalArgumentException("a Kronecker-factored Fisher is written to a FisherStore");
      }
      try {
        this.kronecker = new KroneckerBuild(plan, (FisherRows) rows, view, w, pool, spillDir);
      } catch (RuntimeException e) {
        sink.close();
        throw e;
      }
      return;
    }
    this.kronecker = null;
    if (rows.columns() != plan.layout().parameterCount()) {
      throw new IllegalArgumentException("rows have " + rows.columns() + " columns, the layout "
          + plan.layout().parameterCount());
    }
    this.plan = plan;
    this.rows = rows;
    this.pool = pool;
    this.attach = attach;
    this.passes = plan.passes();
    this.fisherId = newId(plan);
    BuildOptions o = plan.options();
    this.writer = sinks.create(plan.model(), fisherId, new FisherHeader(plan.layout(),
        o.dampening(), plan.samples(), o.miniBatch(), plan.kind(), o.method(), false,
        plan.version(), null, rows.header()));
    try {
      this.spill = passes.size() > 1 ? new SampleSpill(spillDir) : null;
    } catch (IOException e) {
      writer.close();
      throw new UncheckedIOException("creating the sample spill in " + spillDir, e);
    }
    this.moments = new Convergence.Moments(rows.columns());
    this.first = accumulator(passes.get(0));
  }

  private static String newId(BuildPlan plan) {
    byte[] tag = new byte[4];
    new Random().nextBytes(tag);
    String structure = plan.kronecker() == null ? "" : plan.structure().id() + "-";
    return "v" + plan.version() + "-" + structure + plan.kind().name().toLowerCase() + "-"
        + HexFormat.of().formatHex(tag);
  }

  /**
   * Starts a KFAC or EKFAC build of {@code plan} (its {@link BuildPlan#kronecker()} set) over
   * {@code view}'s layers, written to {@code store}.
   */
  static FisherBuild startKronecker(BuildPlan plan, FisherRows rows, ModelView view,
      FisherStore store, ExecutorService pool, Path spillDir,
      BiConsumer<String, Convergence> attach) {
    return new FisherBuild(plan, rows, view, store::create, pool, spillDir, attach);
  }

  /**
   * Starts a build of {@code plan} whose rows come from {@code rows}.
   *
   * @param sinks opens where the blocks go ({@code FisherStore::create} in the server)
   * @param pool the shared Fisher pool (block-parallel work), or null for the calling thread
   * @param spillDir where a multi-pass build keeps its temporary sample file
   * @param attach called with the committed Fisher's id and the convergence the build measured:
   *     attaches it to its version
   */
  public static FisherBuild start(BuildPlan plan, RowSource rows, FisherSink.Factory sinks,
      ExecutorService pool, Path spillDir, BiConsumer<String, Convergence> attach) {
    return new FisherBuild(plan, rows, sinks, pool, spillDir, attach);
  }

  /** The build owns {@code memory} (its reservation of the Fisher memory): closed when it ends. */
  FisherBuild holding(AutoCloseable memory) {
    this.memory = memory;
    return this;
  }

  /**
   * What a Kronecker build runs with its Fisher's id once attached and closed (its memory
   * returned), before {@link #finish} returns: the Fisher's warm-up ({@code Fishers}).
   */
  FisherBuild afterwards(java.util.function.Consumer<String> done) {
    this.afterwards = done;
    return this;
  }

  public BuildPlan plan() {
    return plan;
  }

  public int blocksTotal() {
    return kronecker != null ? kronecker.unitsTotal() : plan.layout().blockCount();
  }

  /**
   * Checks and adds a batch of training samples.
   *
   * @throws LetheException INVALID_ARGUMENT for samples not matching the model, or more than
   *     announced
   */
  public FisherProgress accept(Samples batch) {
    Samples checked = rows.check(batch);
    int n = checked.size();
    if (seen + n > plan.samples()) {
      throw LetheException.invalid("samples", "the stream sent more than the " + plan.samples()
          + " samples announced (options.samples, or the version's train_size)");
    }
    if (kronecker != null) {
      kronecker.accept(checked, seen);
      seen += n;
      return progress(blocksDone, false, null);
    }
    feed(first, checked, seen, true);
    if (spill != null) {
      spill.append(checked);
    }
    seen += n;
    return progress(blocksDone, false, null);
  }

  /**
   * Inverts and stores every block (more passes over the spill if needed), attaches the Fisher
   * to its version, and reports progress per finished block.
   *
   * @throws LetheException INVALID_ARGUMENT when fewer samples came than announced;
   *     INVALID_ARGUMENT (dampening) for a block that is not positive definite
   */
  public FisherProgress finish(Consumer<FisherProgress> progress) {
    if (seen != plan.samples()) {
      throw LetheException.invalid("samples", "the stream sent " + seen + " samples, "
          + plan.samples() + " were announced (options.samples, or the version's train_size)");
    }
    if (kronecker != null) {
      return finishKronecker(progress);
    }
    invert(first, progress);
    first = null;
    for (int g = 1; g < passes.size(); g++) {
      pass = g + 1;
      FisherAccumulator acc = accumulator(passes.get(g));
      long[] position = {0};
      spill.replay(batch -> {
        feed(acc, batch, position[0], false);
        position[0] += batch.size();
      });
      invert(acc, progress);
    }
    FisherHeader header = writer.commit(rows.header());
    Convergence convergence = moments.result();
    attach.accept(fisherId, convergence);
    close();
    BuildOptions o = plan.options();
    return progress(blocksDone, true, new FisherProgress.Summary(fisherId, plan.version(),
        plan.samples(), blocksTotal(), header.totalBytes(), plan.kind(), o.method(),
        (System.nanoTime() - startNanos) / 1e9, passes.size(), convergence,
        FisherStructure.BLOCK_DIAGONAL, plan.structureReason()));
  }

  private FisherProgress finishKronecker(Consumer<FisherProgress> progress) {
    kronecker.finish(plan.samples(), done -> {
      synchronized (this) {
        blocksDone = Math.max(blocksDone, done);
      }
      progress.accept(progress(done, false, null));
    });
    FisherHeader header = writer.commit(rows.header());
    Convergence convergence = kronecker.convergence();
    attach.accept(fisherId, convergence);
    int passesMade = kronecker.passes();
    close();
    afterwards.accept(fisherId);
    BuildOptions o = plan.options();
    return progress(blocksTotal(), true, new FisherProgress.Summary(fisherId, plan.version(),
        plan.samples(), blocksTotal(), header.totalBytes(), plan.kind(), o.method(),
        (System.nanoTime() - startNanos) / 1e9, passesMade, convergence, plan.structure(),
        plan.structureReason()));
  }

  private FisherProgress progress(int done, boolean finished, FisherProgress.Summary summary) {
    int current = kronecker != null ? kronecker.pass() : pass;
    int total = kronecker != null ? kronecker.passes() : Math.max(1, passes.size());
    return new FisherProgress(seen, done, blocksTotal(), finished, summary, current, total);
  }

  private FisherAccumulator accumulator(int[] group) {
    return new FisherAccumulator(plan.layout(), group[0], group[1],
        plan.samples() * rows.rowsPerSample(), plan.options(), pool);
  }

  /**
   * Turns a checked batch (whose first sample is at stream position {@code position}) into rows
   * in chunks and hands the accumulator's columns to it; on the first pass ({@code measure})
   * also adds the samples' gradients to the convergence moments.
   */
  private void feed(FisherAccumulator acc, Samples batch, long position, boolean measure) {
    int p = rows.columns();
    int from = acc.fromColumn();
    int width = acc.toColumn() - from;
    int perSample = rows.rowsPerSample();
    int n = batch.size();
    int chunk = (int) Math.max(1, Math.min(n, chunkBytes / ((long) perSample * p * Float.BYTES)));
    for (int start = 0; start < n; start += chunk) {
      int end = Math.min(n, start + chunk);
      Samples part = start == 0 && end == n ? batch : Batches.range(batch, start, end);
      float[] full = rows.rows(part, position + start);
      int count = (end - start) * perSample;
      if (measure) {
        float[] gradients = rows.rowsAreGradients() ? full : rows.gradients(part);
        if (gradients != null) {
          moments.add(gradients, end - start);
        }
      }
      if (width == p) {
        acc.accept(full, count);
      } else {
        float[] columns = new float[count * width];
        for (int r = 0; r < count; r++) {
          System.arraycopy(full, r * p + from, columns, r * width, width);
        }
        acc.accept(columns, count);
      }
    }
  }

  private void invert(FisherAccumulator acc, Consumer<FisherProgress> progress) {
    acc.finish(new BlockSink() {
      @Override
      public void acceptFisher(int block, double[] fisher) {
        writer.acceptFisher(block, fisher);
      }

      @Override
      public void accept(int block, double[] inverse) {
        writer.accept(block, inverse);
        int done;
        synchronized (FisherBuild.this) {
          done = ++blocksDone;
        }
        progress.accept(progress(done, false, null));
      }
    });
  }

  /**
   * Releases the spill; an uncommitted Fisher is removed. Idempotent. Every cleanup step runs
   * even when an earlier one fails; the first failure is rethrown.
   */
  @Override
  public void close() {
    RuntimeException failure = null;
    if (kronecker != null) {
      try {
        kronecker.close();
      } catch (RuntimeException e) {
        failure = e;
      }
    }
    if (spill != null) {
      try {
        spill.close();
      } catch (RuntimeException e) {
        failure = e;
      }
    }
    try {
      writer.close();
    } catch (RuntimeException e) {
      if (failure == null) {
        failure = e;
      } else {
        failure.addSuppressed(e);
      }
    }
    first = null;
    try {
      memory.close();
    } catch (Exception e) {
      throw new IllegalStateException("returning the build's Fisher memory", e);
    }
    if (failure != null) {
      throw failure;
    }
  }
}
