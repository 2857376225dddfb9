package dev.lethe.fisher;

/**
 * A stored Fisher opened for applies: block-diagonal ({@link FisherInverse}) or
 * Kronecker-factored ({@link KroneckerInverse}). Thread-safe; {@link #close()} is idempotent.
 */
interface OpenFisher extends FisherSolver, AutoCloseable {
  String fisherId();

  FisherHeader header();

  @Override
  void close();
}
