package dev.lethe.train;

import dev.lethe.data.Dataset;
import org.ejml.data.DMatrixRMaj;

/** Copies dataset rows into a dense mini-batch. Stateless. */
final class Batching {
  private Batching() {}

  /**
   * Reshapes {@code x} to [n, D] and fills row r with the features of
   * {@code data} row {@code rows[from + r]} times {@code scale}.
   */
  static void fill(Dataset data, int[] rows, int from, int n, float scale, DMatrixRMaj x) {
    int d = data.featureCount();
    x.reshape(n, d);
    float[] row = new float[d];
    for (int r = 0; r < n; r++) {
      data.copyRow(rows[from + r], scale, row, 0);
      int base = r * d;
      for (int j = 0; j < d; j++) {
        x.data[base + j] = row[j];
      }
    }
  }

  /** Labels of {@code rows[from .. from + n)} into {@code y[0 .. n)}. */
  static void labels(Dataset data, int[] rows, int from, int n, int[] y) {
    for (int r = 0; r < n; r++) {
      y[r] = data.label(rows[from + r]);
    }
  }
}
