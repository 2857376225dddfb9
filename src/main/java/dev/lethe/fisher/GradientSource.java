package dev.lethe.fisher;

import java.io.Closeable;
import java.io.IOException;

/**
 * Per-sample gradient rows (n rows of P floats, in sample order) that can be read more than once:
 * a Fisher build whose accumulators do not fit its memory budget reads the rows once per group
 * of blocks. Each {@link #open} starts a new pass from the first row and reads only the columns
 * asked for, so a pass costs memory for its own columns only.
 *
 * <p>Implementations: {@link ArrayGradients} (rows in memory), {@link SpilledGradients} (a temp
 * file, for a stream that arrives once), or a caller's own (e.g. recomputing gradients).
 */
public interface GradientSource {
  /** n: the number of rows (samples). */
  long rows();

  /** P: the number of columns (flattened parameters). */
  int columns();

  /**
   * Starts a pass over all rows, restricted to the columns {@code [from, to)}.
   *
   * @throws IllegalArgumentException if the range is not inside [0, P]
   */
  Cursor open(int from, int to) throws IOException;

  /** One pass. Not thread-safe; close it when done (it may hold a file). */
  interface Cursor extends Closeable {
    /**
     * Fills {@code rows} with the next rows, row-major [count, to − from], count ≤ maxRows, and
     * returns count; 0 at the end of the pass.
     */
    int next(float[] rows, int maxRows) throws IOException;
  }
}
