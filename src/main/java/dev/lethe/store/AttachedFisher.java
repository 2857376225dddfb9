package dev.lethe.store;

import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherHeader;
import dev.lethe.fisher.InversionMethod;

/**
 * The inverse Fisher attached to a model's active version, as {@link ModelState} reports it
 * (immutable). Built from the stored {@link FisherHeader}.
 *
 * @param structure how F is approximated and stored: {@code "block_diagonal"}, {@code "kfac"},
 *     {@code "ekfac"}
 * @param samples n, the training samples it covers
 * @param blockSize B, the block size it was built with (blocks hold at most B entries)
 * @param version the model version whose weights its gradients were taken at
 * @param bytes stored bytes of its blocks: F⁻¹ and, where kept, F beside it
 * @param dampening λ it was built with
 * @param kroneckerLayers KFAC/EKFAC: the dense layers factored (0 for block-diagonal)
 */
public record AttachedFisher(
    String fisherId,
    CurvatureKind kind,
    String structure,
    long samples,
    int blockSize,
    int blocks,
    long version,
    long bytes,
    InversionMethod method,
    boolean downdated,
    int minibatch,
    double dampening,
    int kroneckerLayers) {

  public static final String BLOCK_DIAGONAL = "block_diagonal";

  static AttachedFisher of(String fisherId, FisherHeader h) {
    return new AttachedFisher(fisherId, h.kind(), h.structure().id(), h.samples(),
        h.layout().maxBlock(), h.layout().blockCount(), h.modelVersion(),
        h.totalBytes(), h.method(), h.downdated(), h.miniBatch(), h.dampening(),
        h.kronecker() == null ? 0 : h.kronecker().layers().size());
  }
}
