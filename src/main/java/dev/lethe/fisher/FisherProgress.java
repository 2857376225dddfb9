package dev.lethe.fisher;

/**
 * Progress of a Fisher build; {@code summary} is set on the last message.
 *
 * @param blocksDone blocks (and, for KFAC/EKFAC, layers) finished
 * @param pass the pass over the samples in progress, from 1 (an EKFAC build's second pass
 *     projects the gradients into the eigenbasis; a block-diagonal build with a small memory
 *     budget makes one pass per group of blocks)
 * @param passes the passes the build makes
 */
public record FisherProgress(long samplesSeen, int blocksDone, int blocksTotal, boolean done,
    Summary summary, int pass, int passes) {

  public FisherProgress(long samplesSeen, int blocksDone, int blocksTotal, boolean done,
      Summary summary) {
    this(samplesSeen, blocksDone, blocksTotal, done, summary, 1, 1);
  }

  /**
   * The stored Fisher.
   *
   * @param bytes stored: F⁻¹ and, where kept, F beside it (KFAC/EKFAC: the layers' factors and
   *     the other parameters' blocks)
   * @param convergence the mean training gradient against the typical one at the build's weights
   * @param structure the structure that was built
   * @param structureReason why (what AUTO compared, or "requested")
   */
  public record Summary(String fisherId, long version, long samples, int blocks, long bytes,
      CurvatureKind kind, InversionMethod method, double buildSeconds, int passes,
      Convergence convergence, FisherStructure structure, String structureReason) {

    public Summary(String fisherId, long version, long samples, int blocks, long bytes,
        CurvatureKind kind, InversionMethod method, double buildSeconds, int passes,
        Convergence convergence) {
      this(fisherId, version, samples, blocks, bytes, kind, method, buildSeconds, passes,
          convergence, FisherStructure.BLOCK_DIAGONAL, "");
    }

    public Summary(String fisherId, long version, long samples, int blocks, long bytes,
        CurvatureKind kind, InversionMethod method, double buildSeconds, int passes) {
      this(fisherId, version, samples, blocks, bytes, kind, method, buildSeconds, passes,
          Convergence.UNKNOWN);
    }
  }
}
