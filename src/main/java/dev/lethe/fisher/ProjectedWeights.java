package dev.lethe.fisher;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * The weights of recent versions projected into a Kronecker Fisher's eigenbases, θ̃_l =
 * Q_Gᵀ W_l Q_A per large layer (float32, out × c; null for the layers solved densely), which
 * an erase with an L2 term needs ({@link KroneckerLargeSolve}). Computing θ̃ is a full
 * projection — as much arithmetic as the rest of the solve — but after an erase θ̃ of the new
 * version is θ̃ + s·M, so sequential erases derive it instead; a build's end computes it for
 * its version ({@code Fishers.warm}); the first erase after a restart or a rollback to a
 * version not kept here computes it.
 *
 * <p>Keyed by model, basis ({@link #basis}) and version. Versions are immutable, so an entry
 * is never stale; at most {@link #PER_MODEL} entries per model (the version an erase started
 * from and the one it made), least recently used evicted: 2 × 4 bytes × the large layers'
 * entries per model (93 MB for an 11.6 M-parameter MLP). Thread-safe.
 */
final class ProjectedWeights {
  static final int PER_MODEL = 2;

  private record Entry(String basis, long version, float[][] layers) {}

  private final Map<String, Deque<Entry>> byModel = new HashMap<>();
  private long hits;

  /**
   * The key of a Fisher's eigenbasis: an EKFAC downdate keeps its parent's bases (the id
   * without its "-d…" suffix names them all); a KFAC Fisher's downdates eigendecompose again.
   */
  static String basis(FisherHeader h, String fisherId) {
    return h.structure() == FisherStructure.EKFAC ? Fishers.rootId(fisherId) : fisherId;
  }

  /** θ̃ per layer of {@code version} in {@code basis}, or null. */
  synchronized float[][] get(String model, String basis, long version) {
    Deque<Entry> entries = byModel.get(model);
    if (entries == null) {
      return null;
    }
    for (Iterator<Entry> it = entries.iterator(); it.hasNext(); ) {
      Entry e = it.next();
      if (e.version() == version && e.basis().equals(basis)) {
        it.remove();
        entries.addFirst(e);
        hits++;
        return e.layers();
      }
    }
    return null;
  }

  /** Keeps θ̃ of {@code version} (the arrays are kept, not copied: callers do not modify them). */
  synchronized void put(String model, String basis, long version, float[][] layers) {
    Deque<Entry> entries = byModel.computeIfAbsent(model, m -> new ArrayDeque<>());
    entries.removeIf(e -> e.version() == version && e.basis().equals(basis));
    entries.addFirst(new Entry(basis, version, layers));
    while (entries.size() > PER_MODEL) {
      entries.removeLast();
    }
  }

  /** Drops a model's entries (its Fisher is gone or the model deleted). */
  synchronized void forget(String model) {
    byModel.remove(model);
  }

  /** Lookups that found θ̃ kept, since start. */
  synchronized long hits() {
    return hits;
  }

  /** Entries held, over all models. */
  synchronized int size() {
    return byModel.values().stream().mapToInt(Deque::size).sum();
  }
}
