package dev.lethe.onnx;

import ai.onnxruntime.OrtEnvironment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The gradient sessions of one model per set of sizes of its symbolic input dims (a sequence
 * length): the graph given at construction (the registration's, at the probe sizes), then one
 * {@link GradientGraph#specialise specialisation} per distinct sizes a request brings, built on
 * first use and kept for the {@value #CAPACITY} most recently used sizes (the least recently used
 * is retired: its sessions close once its calls in flight end). A model without symbolic dims has
 * one entry, the empty sizes, for good.
 *
 * <p>Concurrent calls for sizes being built wait for the one build; a failed build is not
 * cached. Owned by {@link GradientEngine}. Thread-safe.
 */
final class GradientSessionCache {
  /** Sizes whose sessions are kept at once. */
  static final int CAPACITY = 8;

  private final OrtEnvironment env;
  private final GradientGraph first;
  private final LinkedHashMap<List<Long>, GradientSessions> cached = new LinkedHashMap<>(16, 0.75f, true);
  private final Map<List<Long>, CompletableFuture<GradientSessions>> building = new HashMap<>();
  private long builds; // guarded by this
  private boolean closed; // guarded by this

  GradientSessionCache(OrtEnvironment env, GradientGraph first) {
    this.env = env;
    this.first = first;
    cached.put(first.sizes(), new GradientSessions(env, first));
  }

  /**
   * The sessions for {@code sizes}, counted in ({@link GradientSessions#release} when done); built
   * here on first use.
   *
   * @throws dev.lethe.core.LetheException INVALID_ARGUMENT when the model cannot be differentiated
   *     at these sizes ({@link GradientGraph#specialise})
   */
  GradientSessions acquire(List<Long> sizes) {
    while (true) {
      CompletableFuture<GradientSessions> pending;
      boolean mine = false;
      synchronized (this) {
        if (closed) {
          throw new IllegalStateException("gradient engine is closed");
        }
        GradientSessions s = cached.get(sizes);
        if (s != null && s.acquire()) {
          return s;
        }
        pending = building.get(sizes);
        if (pending == null) {
          pending = new CompletableFuture<>();
          building.put(sizes, pending);
          mine = true;
        }
      }
      if (mine) {
        return build(sizes, pending);
      }
      GradientSessions s;
      try {
        s = pending.join();
      } catch (CompletionException e) {
        throw e.getCause() instanceof RuntimeException r ? r : e;
      }
      if (s.acquire()) {
        return s;
      }
    }
  }

  private GradientSessions build(List<Long> sizes, CompletableFuture<GradientSessions> pending) {
    GradientSessions built;
    try {
      built = new GradientSessions(env, first.specialise(sizes));
    } catch (RuntimeException e) {
      synchronized (this) {
        building.remove(sizes);
      }
      pending.completeExceptionally(e);
      throw e;
    }
    List<GradientSessions> evicted = new ArrayList<>();
    synchronized (this) {
      building.remove(sizes);
      builds++;
      built.acquire();
      if (closed) {
        evicted.add(built);
      } else {
        cached.put(sizes, built);
        Iterator<GradientSessions> lru = cached.values().iterator();
        while (cached.size() > CAPACITY) {
          evicted.add(lru.next());
          lru.remove();
        }
      }
    }
    evicted.forEach(GradientSessions::retire);
    pending.complete(built);
    return built;
  }

  /** The sizes whose sessions are kept, least recently used first. */
  synchronized List<List<Long>> sizesCached() {
    return List.copyOf(cached.keySet());
  }

  /** Graphs built for new sizes so far (the constructor's not counted). */
  synchronized long builds() {
    return builds;
  }

  /** Retires every entry (sessions close as their calls end). Idempotent. */
  void close() {
    List<GradientSessions> all;
    synchronized (this) {
      closed = true;
      all = new ArrayList<>(cached.values());
      cached.clear();
    }
    all.forEach(GradientSessions::retire);
  }
}
