package dev.lethe.bench;

import dev.lethe.core.DenseTensor;
import dev.lethe.core.Samples;
import dev.lethe.fisher.BlockLayout;
import dev.lethe.fisher.BuildOptions;
import dev.lethe.fisher.BuildPlan;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherBuild;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherStore;
import dev.lethe.fisher.RowSource;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;

/**
 * Reproducible random Fisher rows computed on demand (entry (r, c) is a hash of the seed, the
 * sample's stream position r and c), standing in for a model's gradients so a benchmark drives
 * the server's own build pipeline ({@link FisherBuild}: session, spill and replay, accumulators,
 * inversion, store writer) at any n × P without a model. Values are uniform in [−1, 1) times a
 * per-column scale in [0.5, 1.5). The samples it is fed carry no data (one zero per sample).
 */
final class SyntheticRows implements RowSource {
  private final long seed;
  private final int p;

  SyntheticRows(long seed, int p) {
    this.seed = seed;
    this.p = p;
  }

  @Override
  public int columns() {
    return p;
  }

  @Override
  public int rowsPerSample() {
    return 1;
  }

  @Override
  public Samples check(Samples batch) {
    return batch;
  }

  @Override
  public float[] rows(Samples batch, long firstSample) {
    int n = batch.size();
    float[] out = new float[n * p];
    fill(firstSample, n, out);
    return out;
  }

  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }

  float value(long r, int c) {
    float scale = 0.5f + (mix(seed * 31 + c) >>> 40) * 0x1.0p-24f;
    long h = mix(seed ^ (r * p + c) * 0x9E3779B97F4A7C15L);
    return scale * ((h >>> 40) * 0x1.0p-23f - 1f);
  }

  /** Fills rows [first, first+count) into out, row-major [count, P]. */
  void fill(long first, int count, float[] out) {
    for (int r = 0; r < count; r++) {
      for (int c = 0; c < p; c++) {
        out[r * p + c] = value(first + r, c);
      }
    }
  }

  /** {@code count} samples that carry nothing but their count. */
  static Samples placeholders(int count) {
    return new Samples(List.of(), Map.of("i", DenseTensor.ofFloats(new long[] {count, 1},
        new float[count])), null);
  }

  /**
   * Builds an EMPIRICAL Fisher of n synthetic rows through the server's pipeline, streaming
   * batches of 256 samples as a BuildFisher client does, and stores it for {@code model} under
   * the id in the returned summary.
   */
  FisherProgress.Summary build(FisherStore store, String model, BlockLayout layout, int n,
      BuildOptions options, ExecutorService pool, Path spillDir) {
    return build(store, model, layout, n, options, pool, spillDir, progress -> {});
  }

  /** As above, reporting the build's progress (from the pool's threads) to {@code progress}. */
  FisherProgress.Summary build(FisherStore store, String model, BlockLayout layout, int n,
      BuildOptions options, ExecutorService pool, Path spillDir,
      java.util.function.Consumer<FisherProgress> progress) {
    BuildPlan plan = new BuildPlan(model, 1, CurvatureKind.EMPIRICAL, layout, options, n, 1, 0);
    try (FisherBuild build = FisherBuild.start(plan, this, store::create, pool, spillDir, (id, c) -> {})) {
      for (int sent = 0; sent < n; sent += 256) {
        build.accept(placeholders(Math.min(256, n - sent)));
      }
      return build.finish(progress).summary();
    }
  }
}
