package dev.lethe.fisher;

/**
 * Receives finished inverse blocks. Called from worker threads, possibly concurrently and in any
 * block order, once per block; implementations must be thread-safe. The array is the block's
 * inverse, row-major b × b (b = the block's size), and is not used by the caller afterwards.
 */
@FunctionalInterface
public interface BlockSink {
  void accept(int block, double[] inverse);

  /**
   * Receives block {@code block}'s F itself (row-major b × b, symmetric), before its inverse,
   * when the builder has it (Gram accumulation does; the rank-1 recursion does not). The array
   * is the caller's work space: read it before returning. The default keeps nothing.
   */
  default void acceptFisher(int block, double[] fisher) {}
}
