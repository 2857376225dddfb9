package dev.lethe.fisher;

/**
 * Multiplies by the inverse Fisher of a model version: {@code out = F⁻¹ v}, in double (the erase
 * keeps its gradient sum in double into the solve). Implementations own their storage access;
 * calls may come from any thread.
 */
@FunctionalInterface
public interface FisherSolver {
  /**
   * @param v the summed gradients, [P], not modified
   * @param out receives F⁻¹ v, [P]; must not alias v
   */
  void apply(double[] v, double[] out);
}
