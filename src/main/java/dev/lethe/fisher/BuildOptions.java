package dev.lethe.fisher;

import dev.lethe.core.LetheException;

/**
 * How to build a Fisher inverse.
 *
 * @param dampening λ ≥ 0 added to the diagonal (Sherman–Morrison needs λ > 0; with λ = 0 a
 *     rank-deficient block is reported as not positive definite)
 * @param miniBatch m ≥ 1: consecutive per-sample gradients averaged before the outer product
 *     (see {@link FisherAccumulator} for the normalisation); 1 is the plain empirical Fisher
 * @param method gram (default) or sherman-morrison
 * @param memoryBudgetBytes the most the per-block accumulators of one pass may take on the heap
 *     (8·b² bytes per block of b entries, b rounded up to a multiple of 4 for gram); blocks that do
 *     not fit are built in further passes over the gradients
 * @param threads worker threads (blocks are processed in parallel)
 * @param batchRows rows handed to the kernels at a time (the k of the rank-k update)
 */
public record BuildOptions(
    double dampening,
    int miniBatch,
    InversionMethod method,
    long memoryBudgetBytes,
    int threads,
    int batchRows) {

  public static final long DEFAULT_BUDGET = 1L << 30;

  public BuildOptions {
    if (!(dampening >= 0) || Double.isInfinite(dampening)) {
      throw LetheException.invalid("dampening", "must be finite and >= 0, got " + dampening);
    }
    if (method == InversionMethod.SHERMAN_MORRISON && dampening == 0) {
      throw LetheException.invalid("dampening", "sherman-morrison starts from I/λ and needs λ > 0");
    }
    if (miniBatch < 1) {
      throw LetheException.invalid("options.minibatch", "must be >= 1, got " + miniBatch);
    }
    if (memoryBudgetBytes < 1) {
      throw LetheException.invalid("memory_budget", "must be >= 1, got " + memoryBudgetBytes);
    }
    if (threads < 1) {
      throw LetheException.invalid("threads", "must be >= 1, got " + threads);
    }
    if (batchRows < 1) {
      throw LetheException.invalid("batch_rows", "must be >= 1, got " + batchRows);
    }
  }

  /** gram, m = 1, 1 GiB budget, 2 threads, 256 rows per kernel call. */
  public static BuildOptions defaults(double dampening) {
    return new BuildOptions(dampening, 1, InversionMethod.GRAM, DEFAULT_BUDGET, 2, 256);
  }

  public BuildOptions withMethod(InversionMethod m) {
    return new BuildOptions(dampening, miniBatch, m, memoryBudgetBytes, threads, batchRows);
  }

  public BuildOptions withMiniBatch(int m) {
    return new BuildOptions(dampening, m, method, memoryBudgetBytes, threads, batchRows);
  }

  public BuildOptions withMemoryBudget(long bytes) {
    return new BuildOptions(dampening, miniBatch, method, bytes, threads, batchRows);
  }

  public BuildOptions withThreads(int t) {
    return new BuildOptions(dampening, miniBatch, method, memoryBudgetBytes, t, batchRows);
  }

  public BuildOptions withBatchRows(int rows) {
    return new BuildOptions(dampening, miniBatch, method, memoryBudgetBytes, threads, rows);
  }
}
