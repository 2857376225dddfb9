package dev.lethe.fisher;

/**
 * Where a build's inverse blocks go: {@link FisherStore.Writer} in the server. Blocks arrive
 * from the pool's threads in any order, once each ({@link BlockSink}); {@link #commit} makes the
 * Fisher complete; {@link #close()} without a commit removes what was written.
 */
public interface FisherSink extends BlockSink, AutoCloseable {
  /**
   * Makes the Fisher complete and returns its header (with block checksums where stored).
   *
   * @param rows how the rows were made, replacing the header's, or null to keep it
   */
  FisherHeader commit(FisherHeader.Rows rows);

  /** {@link #commit(FisherHeader.Rows)} keeping the header's rows. */
  default FisherHeader commit() {
    return commit(null);
  }

  /** Removes an uncommitted Fisher. Idempotent. */
  @Override
  void close();

  /** Opens the sink of a new Fisher {@code fisherId} of {@code model} described by {@code header}. */
  @FunctionalInterface
  interface Factory {
    FisherSink create(String model, String fisherId, FisherHeader header);
  }
}
