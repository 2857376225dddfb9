package dev.lethe.fisher;

/**
 * Gradient rows held in memory, row-major [n, P]. The array is not copied: the caller must not
 * change it while a pass is open. Thread-safe for concurrent passes.
 */
public final class ArrayGradients implements GradientSource {
  private final float[] data;
  private final int n;
  private final int p;

  public ArrayGradients(float[] data, int n, int p) {
    if (n < 0 || p < 0 || (long) n * p != data.length) {
      throw new IllegalArgumentException(
          "rows: expected " + n + " x " + p + " floats, got " + data.length);
    }
    this.data = data;
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

  @Override
  public Cursor open(int from, int to) {
    if (from < 0 || to > p || from > to) {
      throw new IllegalArgumentException("column range [" + from + ", " + to + ") outside [0, " + p + "]");
    }
    int width = to - from;
    return new Cursor() {
      private int row;

      @Override
      public int next(float[] rows, int maxRows) {
        int count = Math.min(maxRows, n - row);
        for (int r = 0; r < count; r++) {
          System.arraycopy(data, (row + r) * p + from, rows, r * width, width);
        }
        row += count;
        return count;
      }

      @Override
      public void close() {}
    };
  }
}
