package dev.lethe.store;

import dev.lethe.core.DaemonThreads;
import dev.lethe.core.LossFunction;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Builds the gradient engine of every stored model when the store opens, on one daemon thread,
 * so that the first Erase or Gradients call after a restart does not pay for it (a request that
 * arrives first waits on the runtime's lock and gets the same engine). A model whose engine
 * cannot be built is logged and left to fail on use, as before.
 *
 * <p>Owned by {@link ModelStore}; {@link #close()} stops the thread and waits for a build in
 * progress, before the store closes its runtimes and its owner the database.
 */
final class GradientWarmer implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(GradientWarmer.class.getName());
  /** How long closing waits for a warm-up in progress. */
  static final long CLOSE_WAIT_MINUTES = 5;
  private final ExecutorService pool;

  private GradientWarmer(ExecutorService pool) {
    this.pool = pool;
  }

  static GradientWarmer start(List<ModelEntry> entries) {
    ExecutorService pool = DaemonThreads.pool("gradient-warm", 1);
    for (ModelEntry e : entries) {
      pool.execute(() -> {
        var r = e.record;
        try {
          e.runtime.warm(r.getActiveVersion(), LossFunction.valueOf(r.getLoss()), r.getL2());
        } catch (IllegalStateException closed) {
          // the store closed first
        } catch (RuntimeException ex) {
          LOG.log(Level.WARNING, "model " + r.getName() + ": gradient engine not built at start", ex);
        }
      });
    }
    pool.shutdown();
    return new GradientWarmer(pool);
  }

  /** Waits until every model was warmed (or failed); false when the wait timed out. */
  boolean await(long millis) throws InterruptedException {
    return pool.awaitTermination(millis, java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  /**
   * Stops the warm-up and waits for a build in progress to end: it reads the store's RocksDB,
   * which its owner closes next (a read after that crashes the process in native code).
   */
  @Override
  public void close() {
    pool.shutdownNow();
    try {
      if (!pool.awaitTermination(CLOSE_WAIT_MINUTES, java.util.concurrent.TimeUnit.MINUTES)) {
        LOG.warning("a gradient warm-up was still running " + CLOSE_WAIT_MINUTES
            + " minutes after the store began to close");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
