package dev.lethe.fisher;

/**
 * Multiplies by the inverse Fisher of a model version: {@code out = F⁻¹ v}. Implementations own
 * their storage access; calls may come from any thread.
 */
public interface FisherSolver {
  /**
   * @param v the summed gradients, [P], not modified
   * @param out receives F⁻¹ v, [P]
   */
  void apply(float[] v, float[] out);
}
