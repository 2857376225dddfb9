package dev.lethe.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class MemoryPoolTest {
  private final MemoryPool pool = new MemoryPool("gradient buffer", "--gradient-memory-bytes", 1000);

  @Test
  void moreThanThePoolIsRefusedAtOnceNamingTheFlag() {
    LetheException e = assertThrows(LetheException.class,
        () -> pool.reserve(1001, "samples", "gradients of 3 samples", 60_000));
    assertEquals(LetheException.Kind.RESOURCE_EXHAUSTED, e.kind());
    assertTrue(e.getMessage().startsWith("samples: gradients of 3 samples need 1001 bytes"), e.getMessage());
    assertTrue(e.getMessage().contains("--gradient-memory-bytes"), e.getMessage());
    assertEquals(0, pool.used());
  }

  @Test
  void aReservationWaitsForReleaseAndClosingTwiceReturnsOnce() throws Exception {
    MemoryPool.Reservation first = pool.reserve(700, "f", "first", 0);
    CountDownLatch started = new CountDownLatch(1);
    CompletableFuture<MemoryPool.Reservation> second = CompletableFuture.supplyAsync(() -> {
      started.countDown();
      return pool.reserve(600, "f", "second", 30_000);
    });
    started.await();
    Thread.sleep(50); // give the second a chance to (wrongly) get through
    assertFalse(second.isDone());
    first.close();
    first.close();
    MemoryPool.Reservation r = second.get(10, TimeUnit.SECONDS);
    assertEquals(600, pool.used());
    r.close();
    assertEquals(0, pool.used());
    assertEquals(700, pool.peak());
  }

  @Test
  void aReservationThatDoesNotComeFreeInTimeIsRefusedAndLeavesTheQueue() {
    try (MemoryPool.Reservation held = pool.reserve(900, "f", "held", 0)) {
      LetheException e = assertThrows(LetheException.class,
          () -> pool.reserve(200, "samples", "gradients", 20));
      assertEquals(LetheException.Kind.RESOURCE_EXHAUSTED, e.kind());
      assertTrue(e.getMessage().contains("100 of the gradient buffer memory's 1000 bytes are free"),
          e.getMessage());
      // The one that gave up does not block the next.
      pool.reserve(100, "f", "small", 0).close();
    }
  }

  @Test
  void reserveUpToTakesWhatIsFreeAtLeastTheMinimum() {
    try (MemoryPool.Reservation a = pool.reserveUpTo(5000, 100, "f", "a")) {
      assertEquals(1000, a.bytes());
      LetheException e = assertThrows(LetheException.class, () -> pool.reserveUpTo(500, 1, "f", "b"));
      assertEquals(LetheException.Kind.RESOURCE_EXHAUSTED, e.kind());
    }
    try (MemoryPool.Reservation a = pool.reserveUpTo(300, 100, "f", "a");
        MemoryPool.Reservation b = pool.reserveUpTo(5000, 100, "f", "b")) {
      assertEquals(300, a.bytes());
      assertEquals(700, b.bytes());
    }
    assertThrows(LetheException.class, () -> pool.reserveUpTo(5000, 1001, "f", "c"));
  }
}
