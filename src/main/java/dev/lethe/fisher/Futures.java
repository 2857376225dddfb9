package dev.lethe.fisher;

import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/** Waiting for block-parallel work. Stateless. */
final class Futures {
  private Futures() {}

  /**
   * Waits for every future; rethrows the first failure (a RuntimeException as it is, an
   * OutOfMemoryError as RESOURCE_EXHAUSTED, anything else wrapped), after all have finished.
   *
   * @param what names the work in the message of an interruption
   */
  /** Runs {@code task} in the calling thread, rethrowing as awaitAll does. */
  static <T> T call(java.util.concurrent.Callable<T> task) {
    try {
      return task.call();
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static void awaitAll(List<Future<?>> futures, String what) {
    RuntimeException failure = null;
    for (Future<?> f : futures) {
      try {
        f.get();
      } catch (ExecutionException e) {
        if (failure == null) {
          failure = e.getCause() instanceof RuntimeException re ? re
              : e.getCause() instanceof OutOfMemoryError oom
                  ? dev.lethe.core.Memory.outOfMemory(what, oom) // RESOURCE_EXHAUSTED, not INTERNAL
                  : new IllegalStateException(e.getCause());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        failure = new IllegalStateException("interrupted during " + what, e);
      }
    }
    if (failure != null) {
      throw failure;
    }
  }
}
