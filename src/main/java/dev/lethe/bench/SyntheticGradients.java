package dev.lethe.bench;

import dev.lethe.fisher.GradientSource;

/**
 * Reproducible random gradient rows computed on demand (entry (r, c) is a hash of the seed, r and
 * c), so a benchmark can replay n × P rows of any size without storing them and a pass reads only
 * its columns. Values are uniform in [−1, 1) times a per-column scale in [0.5, 1.5).
 */
final class SyntheticGradients implements GradientSource {
  private final long seed;
  private final int n;
  private final int p;

  SyntheticGradients(long seed, int n, int p) {
    this.seed = seed;
    this.n = n;
    this.p = p;
  }

  @Override
  public long rows() {
    return n;
  }

  @Override
  public int columns() {
    return p;
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

  @Override
  public Cursor open(int from, int to) {
    int width = to - from;
    return new Cursor() {
      private long row;

      @Override
      public int next(float[] rows, int maxRows) {
        int count = (int) Math.min(maxRows, n - row);
        for (int r = 0; r < count; r++) {
          for (int c = 0; c < width; c++) {
            rows[r * width + c] = value(row + r, from + c);
          }
        }
        row += count;
        return count;
      }

      @Override
      public void close() {}
    };
  }
}
