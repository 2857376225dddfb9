package dev.lethe.fisher;

/**
 * Which Fisher: {@link #EMPIRICAL} uses each sample's gradient at its true label (the paper's);
 * {@link #TRUE} the expectation over the model's own predictive distribution (Σ_c p(c|x) g_c g_cᵀ,
 * the Gauss–Newton matrix; for linear models the Hessian of the data loss); {@link #MONTE_CARLO}
 * labels drawn from the model, an unbiased estimate of TRUE.
 */
public enum CurvatureKind {
  EMPIRICAL,
  TRUE,
  MONTE_CARLO
}
