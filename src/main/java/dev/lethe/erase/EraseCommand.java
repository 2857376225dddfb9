package dev.lethe.erase;

import dev.lethe.core.ErasureStep;
import dev.lethe.core.Samples;

/**
 * A request to erase samples from a model's active version.
 *
 * @param requestId idempotency key ("" = none): a repeat returns the first outcome
 * @param samples the samples to forget, one id per row (ids required)
 * @param dryRun compute and report everything, change nothing
 * @param expectedVersion 0 = any; else the version that must be active
 * @param downdateFisher also remove the erased samples' terms from the Fisher
 * @param step which Fisher the step solves with; null = {@link ErasureStep#LEAVE_OUT} where the
 *     Fisher allows it, else {@link ErasureStep#FULL_FISHER} (the outcome says why)
 */
public record EraseCommand(
    String name,
    String requestId,
    Samples samples,
    boolean dryRun,
    long expectedVersion,
    boolean downdateFisher,
    ErasureStep step) {

  /** A request with the default step. */
  public EraseCommand(String name, String requestId, Samples samples, boolean dryRun,
      long expectedVersion, boolean downdateFisher) {
    this(name, requestId, samples, dryRun, expectedVersion, downdateFisher, null);
  }
}
