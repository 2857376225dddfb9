package dev.lethe.core;

import java.util.List;

/**
 * What an erase did.
 *
 * @param version the active version after the erase (unchanged for a dry run or when nothing
 *     was left to erase)
 * @param erased samples whose influence was removed
 * @param alreadyErased ids of the request that an earlier erase had removed (skipped)
 * @param updateNorm |θ̂ − θ|
 * @param lossBefore mean data loss (no L2 term) of the erased samples before
 * @param lossAfter the same after the update
 */
public record EraseOutcome(
    long version,
    long erased,
    List<String> alreadyErased,
    double updateNorm,
    double lossBefore,
    double lossAfter,
    Timings timings) {

  /** The same outcome at another version (the store assigns an erase's version at commit). */
  public EraseOutcome atVersion(long v) {
    return new EraseOutcome(v, erased, alreadyErased, updateNorm, lossBefore, lossAfter, timings);
  }

  /** Wall time of each stage, milliseconds. */
  public record Timings(double gradientsMs, double solveMs, double storeMs, double swapMs) {}
}
