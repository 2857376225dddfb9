package dev.lethe.fisher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.lethe.core.MemoryPool;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Kept Kronecker parts hold the Fisher memory they use and give it back: a part is kept only
 * while the pool has room for it, work that needs more than is free drops every kept part, and
 * a model moving to another Fisher drops its own.
 */
class KroneckerPartCacheTest {
  private final MemoryPool pool = new MemoryPool("Fisher accumulator", "--fisher-memory-bytes",
      1000);
  private final KroneckerPartCache cache = new KroneckerPartCache(pool);
  private final AtomicInteger reads = new AtomicInteger();

  private float[] read(int floats) {
    reads.incrementAndGet();
    return new float[floats];
  }

  @Test
  void partsAreKeptWhileThePoolHasRoomAndDroppedWhenWorkNeedsIt() {
    float[] a = cache.get("m", "f1", 0, Kronecker.Q_A, () -> read(100));
    assertSame(a, cache.get("m", "f1", 0, Kronecker.Q_A, () -> read(100)));
    assertEquals(1, reads.get());
    assertEquals(400, cache.bytes());
    assertEquals(400, pool.used());
    // 800 bytes do not fit the 600 left: read every time, not kept
    cache.get("m", "f1", 1, Kronecker.Q_A, () -> read(200));
    cache.get("m", "f1", 1, Kronecker.Q_A, () -> read(200));
    assertEquals(3, reads.get());
    assertEquals(400, pool.used());
    cache.makeRoom(600); // fits beside the kept part
    assertEquals(400, cache.bytes());
    cache.makeRoom(601); // does not: everything goes
    assertEquals(0, cache.bytes());
    assertEquals(0, pool.used());
  }

  @Test
  void aModelsPartsGoWithItsFisher() {
    cache.get("m", "f1", 0, Kronecker.Q_G, () -> read(50));
    cache.get("mm", "f2", 0, Kronecker.Q_G, () -> read(50));
    cache.drop("m");
    assertEquals(200, cache.bytes());
    assertEquals(200, pool.used());
    cache.get("mm", "f2", 0, Kronecker.Q_G, () -> read(50));
    assertEquals(2, reads.get());
    cache.clear();
    assertEquals(0, pool.used());
  }
}
