package dev.lethe.fisher;

/**
 * Progress of a Fisher build; {@code summary} is set on the last message.
 */
public record FisherProgress(long samplesSeen, int blocksDone, int blocksTotal, boolean done,
    Summary summary) {

  /**
   * The stored Fisher.
   *
   * @param bytes stored: F⁻¹ and, where kept, F beside it
   * @param convergence the mean training gradient against the typical one at the build's weights
   */
  public record Summary(String fisherId, long version, long samples, int blocks, long bytes,
      CurvatureKind kind, InversionMethod method, double buildSeconds, int passes,
      Convergence convergence) {

    public Summary(String fisherId, long version, long samples, int blocks, long bytes,
        CurvatureKind kind, InversionMethod method, double buildSeconds, int passes) {
      this(fisherId, version, samples, blocks, bytes, kind, method, buildSeconds, passes,
          Convergence.UNKNOWN);
    }
  }
}
