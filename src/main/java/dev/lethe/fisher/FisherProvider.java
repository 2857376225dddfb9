package dev.lethe.fisher;

/**
 * Access to stored inverse Fishers: a solver for a model's Fisher, and the rank-k downdate that
 * removes erased samples' terms. Implementations are thread-safe.
 */
public interface FisherProvider {
  /**
   * A solver for the Fisher {@code fisherId} of {@code model}; the provider owns it (callers do
   * not close it).
   */
  FisherSolver solver(String model, String fisherId);

  /**
   * Writes a new Fisher equal to {@code fisherId} rebuilt without the samples whose gradients are
   * the rows of {@code gradients} ([k, P]), computed for a training set of {@code n} samples
   * before the erase; returns its id. The old Fisher is left as it was.
   */
  String downdate(String model, String fisherId, float[] gradients, int k, long n);
}
