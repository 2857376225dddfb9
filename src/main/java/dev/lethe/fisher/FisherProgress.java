package dev.lethe.fisher;

/**
 * Progress of a Fisher build; {@code summary} is set on the last message.
 */
public record FisherProgress(long samplesSeen, int blocksDone, int blocksTotal, boolean done,
    Summary summary) {

  /** The stored Fisher. */
  public record Summary(String fisherId, long version, long samples, int blocks, long bytes,
      CurvatureKind kind, InversionMethod method, double buildSeconds, int passes) {}
}
