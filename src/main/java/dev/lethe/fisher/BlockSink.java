package dev.lethe.fisher;

/**
 * Receives finished inverse blocks. Called from worker threads, possibly concurrently and in any
 * block order, once per block; implementations must be thread-safe. The array is the block's
 * inverse, row-major b × b (b = the block's size), and is not used by the caller afterwards.
 */
@FunctionalInterface
public interface BlockSink {
  void accept(int block, double[] inverse);
}
