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
public record FisherOptions(
    double dampening,
    int miniBatch,
    FisherMethod method,
    long memoryBudgetBytes,
    int threads,
    int batchRows) {

  public static final long DEFAULT_BUDGET = 1L << 30;

  public FisherOptions {
    if (!(dampening >= 0) || Double.isInfinite(dampening)) {
      throw LetheException.invalid("dampening", "must be finite and >= 0, got " + dampening);
    }
    if (method == FisherMethod.SHERMAN_MORRISON && dampening == 0) {
      throw LetheException.invalid("dampening", "sherman-morrison starts from I/λ and needs λ > 0");
    }
    if (miniBatch < 1) {
      throw LetheException.invalid("mini_batch", "must be >= 1, got " + miniBatch);
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
  public static FisherOptions defaults(double dampening) {
    return new FisherOptions(dampening, 1, FisherMethod.GRAM, DEFAULT_BUDGET, 2, 256);
  }

  public FisherOptions withMethod(FisherMethod m) {
    return new FisherOptions(dampening, miniBatch, m, memoryBudgetBytes, threads, batchRows);
  }

  public FisherOptions withMiniBatch(int m) {
    return new FisherOptions(dampening, m, method, memoryBudgetBytes, threads, batchRows);
  }

  public FisherOptions withMemoryBudget(long bytes) {
    return new FisherOptions(dampening, miniBatch, method, bytes, threads, batchRows);
  }

  public FisherOptions withThreads(int t) {
    return new FisherOptions(dampening, miniBatch, method, memoryBudgetBytes, t, batchRows);
  }

  public FisherOptions withBatchRows(int rows) {
    return new FisherOptions(dampening, miniBatch, method, memoryBudgetBytes, threads, rows);
  }
}
