package dev.lethe.fisher;

import dev.lethe.core.DaemonThreads;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.Samples;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;

/**
 * Gradient rows held in memory, row-major [n, P], as the {@link RowSource} of a build: the
 * sample at stream position i gets row i. Lets the tests drive the server's pipeline
 * ({@link FisherBuild}) with rows they also feed to an independent dense computation.
 */
final class ArrayRows implements RowSource {
  /** Samples per streamed batch: not a divisor of the tests' n, so batches straddle kernels. */
  static final int BATCH = 37;

  private final float[] g;
  private final int n;
  private final int p;
  private final int perSample;
  private long version = 1;

  ArrayRows(float[] g, int n, int p) {
    this(g, n, p, 1);
  }

  /** n samples of {@code perSample} consecutive rows each ([n·perSample, p]), as TRUE rows are. */
  ArrayRows(float[] g, int n, int p, int perSample) {
    if ((long) n * perSample * p != g.length) {
      throw new IllegalArgumentException(n + " x " + perSample + " x " + p + " rows, got "
          + g.length + " floats");
    }
    this.g = g;
    this.n = n;
    this.p = p;
    this.perSample = perSample;
  }

  /** Builds record {@code v} as the model version the rows were taken at (default 1). */
  ArrayRows atVersion(long v) {
    this.version = v;
    return this;
  }

  @Override
  public int columns() {
    return p;
  }

  @Override
  public int rowsPerSample() {
    return perSample;
  }

  @Override
  public Samples check(Samples batch) {
    return batch;
  }

  @Override
  public float[] rows(Samples batch, long firstSample) {
    int count = batch.size();
    if (firstSample + count > n) {
      throw new IllegalArgumentException("rows past " + n);
    }
    float[] out = new float[count * perSample * p];
    System.arraycopy(g, (int) firstSample * perSample * p, out, 0, out.length);
    return out;
  }

  /**
   * Streams the n rows through a {@link FisherBuild} of {@code layout} into {@code sinks} (on a
   * pool of {@code options.threads()}), as BuildFisher does; returns the summary.
   */
  FisherProgress.Summary build(BlockLayout layout, BuildOptions options, FisherSink.Factory sinks,
      Path spillDir) {
    BuildPlan plan = new BuildPlan("m", version, CurvatureKind.EMPIRICAL, layout, options, n, 1, 0);
    ExecutorService pool = options.threads() > 1 ? DaemonThreads.pool("test", options.threads()) : null;
    try (FisherBuild build = FisherBuild.start(plan, this, sinks, pool, spillDir, (id, c) -> {})) {
      for (int sent = 0; sent < n; sent += BATCH) {
        int k = Math.min(BATCH, n - sent);
        build.accept(new Samples(List.of(),
            Map.of("i", DenseTensor.ofFloats(new long[] {k, 1}, new float[k])), null));
      }
      return build.finish(progress -> {}).summary();
    } finally {
      if (pool != null) {
        pool.shutdownNow();
      }
    }
  }

  /**
   * Builds into the store as model "m" under the test's own Fisher id {@code id} (replacing what
   * is stored there, as the store's create does); returns the committed header.
   */
  FisherHeader buildAs(FisherStore store, String id, BlockLayout layout, BuildOptions options,
      Path spillDir) {
    build(layout, options, (model, generated, header) -> store.create(model, id, header), spillDir);
    return store.header("m", id).orElseThrow();
  }

  /** Rows {@code [from, from + k)} of a row-major [·, p] array, one array each. */
  static float[][] split(float[] g, int k, int p) {
    float[][] rows = new float[k][];
    for (int r = 0; r < k; r++) {
      rows[r] = java.util.Arrays.copyOfRange(g, r * p, (r + 1) * p);
    }
    return rows;
  }

  /** A pool for the tests' multi-task applies and downdates (daemon threads). */
  static final ExecutorService POOL = DaemonThreads.pool("test", 3);
}
