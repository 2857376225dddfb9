package dev.lethe.erase;

/**
 * Erase limits.
 *
 * @param maxSamples largest batch one request may erase (RESOURCE_EXHAUSTED beyond)
 * @param maxUpdateRatio refuse an update whose norm exceeds this multiple of |θ|
 * @param chunkBytes bound on the per-sample gradients held at once while summing
 */
public record EraseConfig(int maxSamples, double maxUpdateRatio, long chunkBytes) {
  public static EraseConfig defaults() {
    return new EraseConfig(10_000, 1.0, 64L << 20);
  }
}
