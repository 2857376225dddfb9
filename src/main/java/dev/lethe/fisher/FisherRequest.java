package dev.lethe.fisher;


/**
 * A BuildFisher request's options (the domain form of the API's FisherOptions).
 *
 * @param kind null = the default ({@link FisherBuild#defaultKind}: TRUE, or EMPIRICAL when
 *     mini-batches are averaged)
 * @param version the model version whose weights the gradients are taken at (0 = active)
 * @param blockSize 0 = the spec's
 * @param minibatch 0 = the spec's (averaging applies to the EMPIRICAL kind only)
 * @param draws labels drawn per sample for MONTE_CARLO (0 = 1)
 * @param samples how many samples the stream will send (0 = the version's train_size)
 * @param structure how F is approximated (null or AUTO: block-diagonal while it fits the
 *     storage budget, else EKFAC)
 * @param storageBudgetBytes AUTO's budget for the stored block-diagonal Fisher (0 = the
 *     server's {@code --fisher-storage-budget-bytes})
 */
public record FisherRequest(
    String name,
    CurvatureKind kind,
    InversionMethod method,
    int blockSize,
    int minibatch,
    int draws,
    long seed,
    long version,
    long samples,
    FisherStructure structure,
    long storageBudgetBytes) {

  /** A request with the structure left to AUTO and the server's storage budget. */
  public FisherRequest(String name, CurvatureKind kind, InversionMethod method, int blockSize,
      int minibatch, int draws, long seed, long version, long samples) {
    this(name, kind, method, blockSize, minibatch, draws, seed, version, samples, null, 0);
  }

  /** The same request with {@code s} as its structure. */
  public FisherRequest withStructure(FisherStructure s) {
    return new FisherRequest(name, kind, method, blockSize, minibatch, draws, seed, version,
        samples, s, storageBudgetBytes);
  }
}
