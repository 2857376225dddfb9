package dev.lethe.fisher;

import dev.lethe.core.Samples;

/**
 * Turns training samples into the rows r whose mean outer product per sample is that sample's
 * Fisher term (see {@link FisherRows} for each kind). The build calls it once per pass over the
 * samples, so a source must give the same rows for the same samples and stream positions.
 * Not thread-safe: one build calls it from one thread.
 */
public interface RowSource {
  /** P, the row length. */
  int columns();

  /** Rows per sample (1, C or the Monte Carlo draws). */
  int rowsPerSample();

  /**
   * Checks a batch as it arrives (once; replays are not checked again).
   *
   * @throws dev.lethe.core.LetheException INVALID_ARGUMENT naming the samples field
   */
  Samples check(Samples batch);

  /**
   * The rows of a checked batch, [N · rowsPerSample, P] row-major, sample-major.
   *
   * @param firstSample the stream position of the batch's first sample (0-based), which seeds
   *     whatever a kind draws at random so every pass draws the same
   */
  float[] rows(Samples batch, long firstSample);

  /**
   * How these rows are made, as the Fisher's header records it; asked after the last batch
   * (a source may learn it from the stream). The default: one row per sample, nothing drawn.
   */
  default FisherHeader.Rows header() {
    return new FisherHeader.Rows(rowsPerSample(), 1, 0, false);
  }

  /**
   * True when {@link #rows} are the per-sample gradients of the loss at the true labels (one row
   * per sample, the L2 term included): a build then measures convergence from them directly.
   */
  default boolean rowsAreGradients() {
    return false;
  }

  /**
   * The per-sample gradients of the loss at the true labels, [N, P], for the convergence check;
   * null when this source cannot make them (then it is not measured).
   */
  default float[] gradients(Samples batch) {
    return null;
  }
}
