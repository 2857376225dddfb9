package dev.lethe.core;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The one thread factory of Lethe's worker pools: daemon threads (a pool left open never keeps
 * the JVM alive) named {@code lethe-<purpose>-<n>} so a thread dump says what each one does.
 * Thread-safe.
 */
public final class DaemonThreads implements ThreadFactory {
  private final String prefix;
  private final AtomicInteger next = new AtomicInteger();

  public DaemonThreads(String purpose) {
    this.prefix = "lethe-" + purpose + "-";
  }

  @Override
  public Thread newThread(Runnable r) {
    Thread t = new Thread(r, prefix + next.incrementAndGet());
    t.setDaemon(true);
    return t;
  }

  /** A fixed pool of {@code threads} daemon threads; the caller shuts it down. */
  public static ExecutorService pool(String purpose, int threads) {
    return Executors.newFixedThreadPool(threads, new DaemonThreads(purpose));
  }
}
