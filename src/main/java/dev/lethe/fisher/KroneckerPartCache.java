package dev.lethe.fisher;

import dev.lethe.core.LetheException;
import dev.lethe.core.MemoryPool;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The float32 parts of the open Kronecker Fishers (Q_A, Q_G, Λ*, Λ_A, Λ_G: what large layers'
 * solves and EKFAC downdates read) kept in memory between erases: an erase of the 11.6
 * M-parameter MLP of {@code bench fisher-large} reads 207 MB of them, about 0.25 s from RocksDB.
 *
 * <p>Each kept part holds a reservation of the Fisher memory ({@code --fisher-memory-bytes})
 * that builds and leave-out solves use: a part is kept only while that much is free, and the
 * work that needs more than is free drops every kept part first ({@link #makeRoom}). A model's
 * parts are dropped when it moves to another Fisher ({@link #drop}). So the cache never makes
 * other work fail or the process hold more than its Fisher memory.
 *
 * <p>Parts are shared: callers must not modify what {@link #get} returns. Thread-safe; reads
 * from the store run outside the lock.
 */
final class KroneckerPartCache {
  private record Kept(float[] values, MemoryPool.Reservation memory) {}

  private final MemoryPool memory;
  private final Map<String, Kept> parts = new HashMap<>();

  KroneckerPartCache(MemoryPool memory) {
    this.memory = memory;
  }

  /** The part, kept or read by {@code read} (and kept when the Fisher memory has room). */
  float[] get(String model, String fisherId, int layer, byte part, Supplier<float[]> read) {
    String key = model + '\0' + fisherId + '\0' + layer + '\0' + (char) part;
    synchronized (this) {
      Kept kept = parts.get(key);
      if (kept != null) {
        return kept.values();
      }
    }
    float[] values = read.get();
    long bytes = (long) values.length * Float.BYTES;
    synchronized (this) {
      if (!parts.containsKey(key) && memory.capacity() - memory.used() >= bytes) {
        try {
          parts.put(key, new Kept(values, memory.reserveUpTo(bytes, bytes, "--fisher-memory-bytes",
              "a kept Kronecker part")));
        } catch (LetheException e) {
          // taken meanwhile: not kept
        }
      }
    }
    return values;
  }

  /** Drops the parts of {@code model}'s Fishers. */
  synchronized void drop(String model) {
    parts.entrySet().removeIf(e -> {
      boolean of = e.getKey().startsWith(model + '\0');
      if (of) {
        e.getValue().memory().close();
      }
      return of;
    });
  }

  /** Drops every kept part when fewer than {@code wanted} bytes of the Fisher memory are free. */
  synchronized void makeRoom(long wanted) {
    if (memory.capacity() - memory.used() < wanted) {
      clear();
    }
  }

  synchronized void clear() {
    parts.values().forEach(k -> k.memory().close());
    parts.clear();
  }

  /** Bytes kept now. */
  synchronized long bytes() {
    return parts.values().stream().mapToLong(k -> (long) k.values().length * Float.BYTES).sum();
  }
}
