package dev.lethe.storage;

import java.nio.file.Path;

/**
 * The data directory's RocksDB is open in another process (its LOCK file is held): Lethe has
 * one writer per store, so a second `lethe serve` or a second replica on the same volume refuses
 * to start with this, not a crash loop of stack traces.
 */
public final class StoreLockedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public StoreLockedException(Path dir, Throwable cause) {
    super("the store at " + dir + " is in use by another Lethe process (its RocksDB LOCK is held):"
        + " Lethe has one writer per data directory; stop the other process or give this one its"
        + " own --data-dir (Kubernetes: one replica per volume, see"
        + " client-examples/kubernetes)", cause);
  }
}
