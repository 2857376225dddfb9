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
 * @param step the step that ran
 * @param stepNote why a request that named no step got {@link ErasureStep#FULL_FISHER} ("" when
 *     the default was not changed)
 * @param previews for a dry run, what each step would do (empty otherwise)
 * @param updateRatio |θ̂ − θ| / |θ|: a large one on a model not at a minimum means overshooting
 */
public record EraseOutcome(
    long version,
    long erased,
    List<String> alreadyErased,
    double updateNorm,
    double lossBefore,
    double lossAfter,
    Timings timings,
    ErasureStep step,
    String stepNote,
    List<Preview> previews,
    double updateRatio) {

  public EraseOutcome {
    alreadyErased = List.copyOf(alreadyErased);
    previews = List.copyOf(previews);
  }

  /** The same outcome at another version (the store assigns an erase's version at commit). */
  public EraseOutcome atVersion(long v) {
    return new EraseOutcome(v, erased, alreadyErased, updateNorm, lossBefore, lossAfter, timings,
        step, stepNote, previews, updateRatio);
  }

  /** The same outcome with other timings. */
  public EraseOutcome withTimings(Timings t) {
    return new EraseOutcome(version, erased, alreadyErased, updateNorm, lossBefore, lossAfter, t,
        step, stepNote, previews, updateRatio);
  }

  /**
   * Wall time of each stage, milliseconds.
   *
   * @param leaveOutRowsMs of gradientsMs, computing the erased samples' Fisher rows (LEAVE_OUT)
   */
  public record Timings(double gradientsMs, double solveMs, double storeMs, double swapMs,
      double leaveOutRowsMs) {
    public Timings(double gradientsMs, double solveMs, double storeMs, double swapMs) {
      this(gradientsMs, solveMs, storeMs, swapMs, 0);
    }
  }

  /**
   * What one step would do (a dry run reports both).
   *
   * @param unavailable why the step cannot run on this model ("" when it can; then the norms
   *     are NaN)
   */
  public record Preview(ErasureStep step, double updateNorm, double lossAfter, String unavailable) {}
}
