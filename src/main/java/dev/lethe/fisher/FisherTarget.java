package dev.lethe.fisher;

import dev.lethe.core.ModelConfig;

/**
 * The model version a Fisher is built for, as the store resolved it when the build started.
 * Implemented by the store; {@link #attach} is the build's last step.
 *
 * @see Fishers#startBuild
 */
public interface FisherTarget {
  String model();

  /** The version whose weights the gradients are taken at (resolved, never 0). */
  long version();

  /** n of that version. */
  long trainSize();

  /** The model's configuration (dampening, block size, mini-batch defaults). */
  ModelConfig config();

  ModelView view();

  /**
   * Attaches a committed Fisher to the version (one synced write; watchers told), with what its
   * build measured of the weights' convergence; a Fisher no kept version references any more is
   * deleted in that write.
   */
  void attach(String fisherId, Convergence convergence);
}
