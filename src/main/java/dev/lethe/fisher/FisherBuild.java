package dev.lethe.fisher;

import dev.lethe.core.Batches;
import dev.lethe.core.DaemonThreads;
import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import dev.lethe.store.ModelState;
import dev.lethe.store.ModelStore;
import dev.lethe.store.VersionState;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

/**
 * One BuildFisher stream: options first ({@link #start}), then training batches
 * ({@link #accept}), then {@link #finish}. Gradient rows (per {@link FisherRows}) feed the
 * accumulators of the first group of blocks as batches arrive; when all accumulators do not fit
 * the memory budget, the samples also go to a temporary {@link SampleSpill} that is replayed
 * once per further group, and deleted. The samples are never kept after the build. The finished
 * Fisher is attached to its version; a Fisher no kept version uses any more is deleted.
 *
 * <p>Not thread-safe (one stream). {@link #close()} removes everything of an unfinished build.
 */
public final class FisherBuild implements AutoCloseable {
  /** Gradient bytes held at once while turning a batch into rows. */
  private static final long CHUNK_BYTES = 64L << 20;

  private final ModelStore store;
  private final FisherStore fishers;
  private final String name;
  private final long version;
  private final CurvatureKind kind;
  private final long samples;
  private final BlockLayout layout;
  private final BuildOptions options;
  private final List<int[]> groups;
  private final FisherRows rows;
  private final ExecutorService pool;
  private final FisherStore.Writer writer;
  private final String fisherId;
  private final SampleSpill spill;
  private final long startNanos = System.nanoTime();
  private FisherAccumulator first;
  private long seen;
  private int blocksDone;

  private FisherBuild(ModelStore store, FisherStore fishers, FisherRequest r, long budgetBytes,
      int threads, Path spillDir) {
    this.store = store;
    this.fishers = fishers;
    this.name = r.name();
    ModelState info = store.info(r.name());
    VersionState v = store.version(r.name(), r.version());
    this.version = v.version();
    int block = r.blockSize() > 0 ? r.blockSize() : info.spec().blockSize();
    int minibatch = r.minibatch() > 0 ? r.minibatch() : info.spec().fisherMinibatch();
    this.kind = r.kind() != null ? r.kind() : defaultKind(minibatch);
    if (minibatch > 1 && kind != CurvatureKind.EMPIRICAL) {
      throw LetheException.invalid("options.minibatch", "averaging applies to the EMPIRICAL Fisher only");
    }
    if (r.draws() < 0 || r.draws() > 1000 || (r.draws() > 0 && kind != CurvatureKind.MONTE_CARLO)) {
      throw LetheException.invalid("options.monte_carlo_draws",
          "must be 0 or, for MONTE_CARLO, in [1, 1000]; got " + r.draws());
    }
    this.samples = r.samples() > 0 ? r.samples() : v.trainSize();
    if (samples < 1) {
      throw LetheException.invalid("options.samples", "version " + version
          + " has train_size 0: say how many samples the stream sends");
    }
    int classes = (int) java.util.Arrays.stream(info.outputDims()).reduce(1, (a, b) -> a * b);
    this.rows = new FisherRows(store, name, version, info.spec().loss(), kind, classes,
        Math.max(1, r.draws()), r.seed());
    this.layout = BlockLayout.forParameters(store.parameterShapes(name), block);
    this.options = new BuildOptions(info.spec().dampening(), minibatch, r.method(), budgetBytes,
        threads, 256);
    this.groups = FisherBuilder.plan(layout, r.method(), budgetBytes);
    this.pool = DaemonThreads.pool("fisher-build", threads);
    byte[] tag = new byte[4];
    new Random().nextBytes(tag);
    this.fisherId = "v" + version + "-" + kind.name().toLowerCase() + "-" + HexFormat.of().formatHex(tag);
    this.writer = fishers.create(name, fisherId, new FisherHeader(layout, options.dampening(),
        samples, minibatch, kind.name(), r.method().id(), version, null));
    try {
      this.spill = groups.size() > 1 ? new SampleSpill(spillDir) : null;
    } catch (IOException e) {
      close();
      throw new UncheckedIOException("creating the sample spill in " + spillDir, e);
    }
    this.first = accumulator(groups.get(0));
  }

  /**
   * The kind of a build that names none: TRUE (the Gauss–Newton matrix; for linear models the
   * Hessian), which came closest to retraining in the evaluation (docs/evaluation.md), or
   * EMPIRICAL when mini-batches are averaged, which only applies to gradients at the true labels.
   */
  static CurvatureKind defaultKind(int minibatch) {
    return minibatch > 1 ? CurvatureKind.EMPIRICAL : CurvatureKind.TRUE;
  }

  /**
   * Starts a build after checking its options.
   *
   * @throws LetheException NOT_FOUND (model or version), INVALID_ARGUMENT (a bad option, naming
   *     it)
   */
  public static FisherBuild start(ModelStore store, FisherStore fishers, FisherRequest request,
      long budgetBytes, int threads, Path spillDir) {
    if (request.method() == null) {
      throw LetheException.invalid("options.method", "must be a known value");
    }
    if (request.blockSize() < 0 || request.minibatch() < 0 || request.samples() < 0) {
      throw LetheException.invalid("options.block_size, options.minibatch, options.samples",
          "each must be >= 0");
    }
    return new FisherBuild(store, fishers, request, budgetBytes, threads, spillDir);
  }

  public int blocksTotal() {
    return layout.blockCount();
  }

  /**
   * Adds a batch of training samples.
   *
   * @throws LetheException INVALID_ARGUMENT for samples not matching the model, or more than
   *     announced
   */
  public FisherProgress accept(Samples batch) {
    int n = batch.size();
    if (seen + n > samples) {
      throw LetheException.invalid("samples", "the stream sent more than the " + samples
          + " samples announced (options.samples, or the version's train_size)");
    }
    feed(first, groups.get(0), batch);
    if (spill != null) {
      spill.append(batch);
    }
    seen += n;
    return new FisherProgress(seen, blocksDone, layout.blockCount(), false, null);
  }

  /**
   * Inverts and stores every block (more passes over the spill if needed), attaches the Fisher
   * to its version, and reports progress per finished block.
   *
   * @throws LetheException INVALID_ARGUMENT when fewer samples came than announced;
   *     INVALID_ARGUMENT (dampening) for a block that is not positive definite
   */
  public FisherProgress finish(Consumer<FisherProgress> progress) {
    if (seen != samples) {
      throw LetheException.invalid("samples", "the stream sent " + seen + " samples, "
          + samples + " were announced (options.samples, or the version's train_size)");
    }
    finishGroup(first, progress);
    first = null;
    for (int g = 1; g < groups.size(); g++) {
      FisherAccumulator acc = accumulator(groups.get(g));
      int[] group = groups.get(g);
      spill.replay(batch -> feed(acc, group, batch));
      finishGroup(acc, progress);
    }
    FisherHeader header = writer.commit();
    String previous = store.fisherId(name, version);
    store.attachFisher(name, version, fisherId);
    if (!previous.isEmpty() && !store.fisherIdsInUse(name).contains(previous)) {
      fishers.delete(name, previous);
    }
    close();
    return new FisherProgress(seen, blocksDone, layout.blockCount(), true,
        new FisherProgress.Summary(fisherId, version, samples, layout.blockCount(),
            header.totalStoredBytes(), kind, options.method(),
            (System.nanoTime() - startNanos) / 1e9, groups.size()));
  }

  private FisherAccumulator accumulator(int[] group) {
    return new FisherAccumulator(layout, group[0], group[1], samples * rows.rowsPerSample(),
        options, pool);
  }

  /** Turns a batch into gradient rows in chunks and hands the group's columns to {@code acc}. */
  private void feed(FisherAccumulator acc, int[] group, Samples batch) {
    int p = layout.parameterCount();
    int from = acc.fromColumn();
    int width = acc.toColumn() - from;
    int perSample = rows.rowsPerSample();
    int n = batch.size();
    int chunk = (int) Math.max(1, Math.min(n, CHUNK_BYTES / ((long) perSample * p * Float.BYTES)));
    for (int start = 0; start < n; start += chunk) {
      int end = Math.min(n, start + chunk);
      float[] full = rows.rows(start == 0 && end == n ? batch : Batches.range(batch, start, end));
      int count = (end - start) * perSample;
      if (width == p) {
        acc.accept(full, count);
      } else {
        float[] part = new float[count * width];
        for (int r = 0; r < count; r++) {
          System.arraycopy(full, r * p + from, part, r * width, width);
        }
        acc.accept(part, count);
      }
    }
  }

  private void finishGroup(FisherAccumulator acc, Consumer<FisherProgress> progress) {
    acc.finish((block, inverse) -> {
      writer.accept(block, inverse);
      int done;
      synchronized (this) {
        done = ++blocksDone;
      }
      progress.accept(new FisherProgress(seen, done, layout.blockCount(), false, null));
    });
  }

  /** Releases the pool and the spill; an uncommitted Fisher is removed. Idempotent. */
  @Override
  public void close() {
    pool.shutdownNow();
    if (spill != null) {
      spill.close();
    }
    if (writer != null) {
      writer.close();
    }
  }
}
