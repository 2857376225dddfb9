package dev.lethe.core;

import java.util.concurrent.TimeUnit;

/**
 * A bounded count of bytes that callers reserve before they allocate and release after use: one
 * share of the {@link MemoryBudget} (the gradient buffers of all models, the Fisher accumulators,
 * upload checks). A reservation larger than the whole pool is refused at once; one that does not
 * fit beside the reservations in use waits up to the given time for them to be released (the
 * work that holds them is short), then is refused. Refusals are RESOURCE_EXHAUSTED naming what
 * did not fit and the flag that raises the pool.
 *
 * <p>Thread-safe. Waiters are served in arrival order while the head one does not fit (no
 * starvation of large reservations by small ones).
 */
public final class MemoryPool {
  private final String name;
  private final String flag;
  private final long capacity;
  private long used;
  private long peak;
  private long nextTicket;
  private long serving;

  /**
   * @param name what the pool holds, for messages ("gradient buffers")
   * @param flag the setting that raises it ("--gradient-memory-bytes")
   */
  public MemoryPool(String name, String flag, long capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException(flag + " must be > 0, got " + capacity);
    }
    this.name = name;
    this.flag = flag;
    this.capacity = capacity;
  }

  public long capacity() {
    return capacity;
  }

  public String flag() {
    return flag;
  }

  /** Bytes reserved now. */
  public synchronized long used() {
    return used;
  }

  /** The most bytes reserved at once since the pool was made. */
  public synchronized long peak() {
    return peak;
  }

  /** A held reservation; closing it (idempotent) returns its bytes. */
  public final class Reservation implements AutoCloseable {
    private final long bytes;
    private boolean closed;

    private Reservation(long bytes) {
      this.bytes = bytes;
    }

    public long bytes() {
      return bytes;
    }

    @Override
    public void close() {
      synchronized (MemoryPool.this) {
        if (!closed) {
          closed = true;
          used -= bytes;
          MemoryPool.this.notifyAll();
        }
      }
    }
  }

  /**
   * Reserves {@code bytes}, waiting up to {@code waitMillis} for reservations in use.
   *
   * @param what the allocation, for the message ("gradients of 12 samples x 203530 parameters")
   * @throws LetheException RESOURCE_EXHAUSTED (field {@code field}) when bytes exceed the pool
   *     or do not become free in time
   */
  public Reservation reserve(long bytes, String field, String what, long waitMillis) {
    if (bytes < 0) {
      throw new IllegalArgumentException("negative reservation " + bytes);
    }
    if (bytes > capacity) {
      throw LetheException.tooLarge(field, what + " need " + bytes + " bytes, more than the "
          + name + " memory of " + capacity + " bytes (" + flag + "; see the sizing guide)");
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMillis);
    synchronized (this) {
      long ticket = nextTicket++;
      try {
        while (ticket != serving || used + bytes > capacity) {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            throw LetheException.tooLarge(field, what + " need " + bytes + " bytes; " + (capacity - used)
                + " of the " + name + " memory's " + capacity + " bytes are free and none came free"
                + " within " + waitMillis + " ms (other requests hold the rest; retry, or raise "
                + flag + ")");
          }
          TimeUnit.NANOSECONDS.timedWait(this, left);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new LetheException(LetheException.Kind.UNAVAILABLE, "interrupted waiting for " + name
            + " memory");
      } finally {
        if (ticket == serving) {
          advance();
        } else {
          // Gave up while queued: later tickets must not wait for this one.
          skipped(ticket);
        }
        notifyAll();
      }
      used += bytes;
      peak = Math.max(peak, used);
      return new Reservation(bytes);
    }
  }

  private final java.util.TreeSet<Long> abandoned = new java.util.TreeSet<>();

  /** Records a ticket that left the queue while others were ahead of it. */
  private void skipped(long ticket) {
    abandoned.add(ticket);
  }

  /** The head ticket is done: serve the next one that is still waiting. */
  private void advance() {
    serving++;
    while (abandoned.remove(serving)) {
      serving++;
    }
  }

  /**
   * Reserves as much of {@code wanted} as is free now, at least {@code least}, without waiting:
   * for work that can run in smaller pieces (a Fisher build makes more passes).
   *
   * @throws LetheException RESOURCE_EXHAUSTED when not even {@code least} is free
   */
  public synchronized Reservation reserveUpTo(long wanted, long least, String field, String what) {
    if (least > capacity) {
      throw LetheException.tooLarge(field, what + " need at least " + least + " bytes, more than the "
          + name + " memory of " + capacity + " bytes (" + flag + "; see the sizing guide)");
    }
    long free = capacity - used;
    if (free < least) {
      throw LetheException.tooLarge(field, what + " need at least " + least + " bytes; "
          + free + " of the " + name + " memory's " + capacity + " bytes are free (other work holds"
          + " the rest; retry, or raise " + flag + ")");
    }
    long bytes = Math.min(Math.max(least, wanted), free);
    used += bytes;
    peak = Math.max(peak, used);
    return new Reservation(bytes);
  }
}
