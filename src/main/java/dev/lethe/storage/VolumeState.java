package dev.lethe.storage;

import dev.lethe.core.LetheException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.rocksdb.RocksDBException;
import org.rocksdb.Status;

/**
 * Whether the data volume can take writes: a write that fails for lack of space marks it full
 * (RocksDB then refuses writes until {@link LetheDb#tryResume} succeeds), and listeners hear
 * every change (the server's health follows it). Thread-safe.
 */
final class VolumeState {
  private volatile boolean writable = true;
  private final List<Consumer<Boolean>> listeners = new CopyOnWriteArrayList<>();

  /**
   * Free space every write leaves on the data volume: room for RocksDB's flushes and
   * compactions, and the margin that keeps RocksDB's own writes from ever failing for lack of
   * space (after which RocksDB would refuse every write until a restart).
   */
  static final long RESERVE_BYTES = 16L << 20;
  private static final java.util.logging.Logger LOG =
      java.util.logging.Logger.getLogger(VolumeState.class.getName());
  private volatile boolean stuckLogged;

  boolean writable() {
    return writable;
  }

  /**
   * Whether {@code dir}'s volume has {@code bytes} plus the reserve free (a WAL record holds the
   * batch's data again); false marks the volume full.
   */
  boolean hasRoom(java.nio.file.Path dir, long bytes) {
    long usable;
    try {
      usable = java.nio.file.Files.getFileStore(dir).getUsableSpace();
    } catch (java.io.IOException e) {
      return true; // cannot tell: let RocksDB try
    }
    boolean room = usable >= RESERVE_BYTES + 2 * bytes;
    if (!room) {
      set(false);
    }
    return room;
  }

  /** RocksDB refused a probe with space available: its writes stopped after an I/O error. */
  void stuck(java.nio.file.Path dir, RocksDBException e) {
    if (!stuckLogged) {
      stuckLogged = true;
      LOG.severe("RocksDB at " + dir + " refuses writes after an I/O error (" + e.getMessage()
          + "); restart the server to recover");
    }
  }

  void listen(Consumer<Boolean> listener) {
    listeners.add(listener);
  }

  /** Whether {@code e} (or what it wraps) says the volume is out of space. */
  static boolean noSpace(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof RocksDBException r && r.getStatus() != null
          && r.getStatus().getSubCode() == Status.SubCode.NoSpace) {
        return true;
      }
      if (t.getMessage() != null && t.getMessage().contains("No space left on device")) {
        return true;
      }
    }
    return false;
  }

  /**
   * The client's answer to a write refused for lack of space: RESOURCE_EXHAUSTED naming the data
   * volume (not its path: paths stay in the log).
   */
  static LetheException full(String what, Throwable cause) {
    return new LetheException(LetheException.Kind.RESOURCE_EXHAUSTED,
        "data volume (--data-dir) is full: " + what + " was not written; free space on it and "
            + "retry (the server reports NOT_SERVING until writes succeed again)", cause);
  }

  void set(boolean now) {
    if (writable != now) {
      writable = now;
      listeners.forEach(l -> l.accept(now));
    }
  }
}
