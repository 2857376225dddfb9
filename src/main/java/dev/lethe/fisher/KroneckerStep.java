package dev.lethe.fisher;

/**
 * A Kronecker Fisher's solve of an erase's {@link FactoredGradient}: x = F⁻¹g (or F₋S⁻¹g) and,
 * per large layer, what the next version's projected weights are derived from once the erase
 * commits ({@link Fishers#committed}): θ̃ of the version the gradient was taken at and the
 * middle matrix M. Immutable; holds about 8 bytes per large-layer entry until dropped.
 *
 * @param x the step, [P] in double
 * @param basis the eigenbasis key ({@link ProjectedWeights#basis}), or null when the solve's
 *     basis is not a stored one (a KFAC leave-out eigendecomposes again)
 */
public record KroneckerStep(double[] x, String basis, long version, float[][] projected,
    float[][] middle) {
  /** Whether the next version's θ̃ can be derived from this step. */
  boolean derivable() {
    if (basis == null || projected == null) {
      return false;
    }
    for (int l = 0; l < projected.length; l++) {
      if (projected[l] != null && middle[l] != null) {
        return true;
      }
    }
    return false;
  }
}
