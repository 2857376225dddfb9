package dev.lethe.core;

/**
 * Which curvature an erase step θ̂ = θ + ε/(n−k) · F⁻¹ Σ_S ∇l_i solves with (DESIGN.md, "Step").
 *
 * <ul>
 *   <li>{@link #LEAVE_OUT}: the paper's eq. 1 done exactly, F₋S = λI + (Σ_D − Σ_S) r rᵀ/(n−k),
 *       S's rows of the Fisher's kind computed from the request's own samples at the weights the
 *       Fisher was built at; the default where the Fisher allows it.
 *   <li>{@link #FULL_FISHER}: the paper's eq. 4, the stored F over all n samples.
 * </ul>
 */
public enum ErasureStep {
  LEAVE_OUT,
  FULL_FISHER
}
