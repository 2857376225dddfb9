package dev.lethe.fisher;

/**
 * How a Fisher approximates F (the domain form of the API's FisherStructure).
 *
 * <ul>
 *   <li>BLOCK_DIAGONAL: dense blocks of at most B entries (packed F⁻¹ and F);
 *   <li>KFAC: per dense layer A ⊗ G (Martens &amp; Grosse 2015), eigendecomposed;
 *   <li>EKFAC: the same eigenbasis with the per-entry second moments of the projected
 *       gradients as eigenvalues (George et al. 2018);
 *   <li>AUTO: block-diagonal while its stored size fits the storage budget, else EKFAC.
 * </ul>
 *
 * In KFAC and EKFAC Fishers, parameters outside dense layers keep block-diagonal blocks.
 */
public enum FisherStructure {
  BLOCK_DIAGONAL,
  KFAC,
  EKFAC,
  AUTO;

  /** True for the Kronecker-factored structures. */
  public boolean kronecker() {
    return this == KFAC || this == EKFAC;
  }

  /** The name FisherInfo.structure reports: "block_diagonal", "kfac", "ekfac". */
  public String id() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
