package dev.lethe.fisher;

import dev.lethe.core.Batches;
import dev.lethe.core.Samples;

/**
 * The Fisher rows of the k samples an erase removes — the same rows, of the same kind, that the
 * Fisher's build summed for them — produced in chunks so a caller can keep only the columns it
 * needs: a leave-out solve with a small memory budget asks for them once per group of blocks.
 *
 * <p>Shapes: rows are [count, P] float32, row-major, sample-major ({@link #rowsPerSample()}
 * consecutive rows per sample). Not thread-safe: one erase calls it from one thread.
 */
public interface ErasedRows {
  /** k, the samples removed. */
  int samples();

  /** r, rows per sample (the Fisher divides each sample's outer products by it). */
  int rowsPerSample();

  /** P. */
  int columns();

  /** Receives one chunk: rows [count, P], owned by the receiver until it returns. */
  @FunctionalInterface
  interface Chunk {
    void accept(float[] rows, int count);
  }

  /** Produces all k·r rows, in order, as consecutive chunks. */
  void forEach(Chunk chunk);

  /** Nanoseconds spent making rows so far (0 for rows held in memory). */
  default long nanos() {
    return 0;
  }

  /**
   * The rows of {@code samples} (checked, ids required for MONTE_CARLO) as {@code rows} makes
   * them, computed in chunks of at most {@code chunkBytes} of rows.
   */
  static ErasedRows of(RowSource rows, Samples samples, long chunkBytes) {
    return new ErasedRows() {
      private long nanos;

      @Override
      public long nanos() {
        return nanos;
      }

      @Override
      public int samples() {
        return samples.size();
      }

      @Override
      public int rowsPerSample() {
        return rows.rowsPerSample();
      }

      @Override
      public int columns() {
        return rows.columns();
      }

      @Override
      public void forEach(Chunk chunk) {
        int k = samples.size();
        long perSample = (long) rows.rowsPerSample() * rows.columns() * Float.BYTES;
        int step = (int) Math.max(1, Math.min(k, chunkBytes / perSample));
        for (int from = 0; from < k; from += step) {
          int to = Math.min(k, from + step);
          Samples part = from == 0 && to == k ? samples : Batches.range(samples, from, to);
          long t = System.nanoTime();
          float[] made = rows.rows(part, -1);
          nanos += System.nanoTime() - t;
          chunk.accept(made, (to - from) * rows.rowsPerSample());
        }
      }
    };
  }

  /** Rows held in memory, [k·r, P] (tests, and gradients an erase already has). */
  static ErasedRows ofArray(float[] rows, int k, int perSample, int p) {
    if ((long) k * perSample * p != rows.length) {
      throw new IllegalArgumentException(k + " x " + perSample + " rows of " + p + ", got "
          + rows.length + " floats");
    }
    return new ErasedRows() {
      @Override
      public int samples() {
        return k;
      }

      @Override
      public int rowsPerSample() {
        return perSample;
      }

      @Override
      public int columns() {
        return p;
      }

      @Override
      public void forEach(Chunk chunk) {
        chunk.accept(rows, k * perSample);
      }
    };
  }
}
