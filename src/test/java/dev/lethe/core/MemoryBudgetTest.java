package dev.lethe.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The budget's split, against figures worked out by hand from the documented percentages. */
class MemoryBudgetTest {
  private static final long MIB = 1 << 20;

  @Test
  void aSmallHeapKeepsTheMinimumReserveAndSplitsTheRest() {
    MemoryBudget b = MemoryBudget.of(256 * MIB, 256 * MIB);
    long usable = 256 * MIB - 48 * MIB; // the reserve is max(48 MiB, heap/8 = 32 MiB)
    assertEquals(48 * MIB, MemoryBudget.reserveBytes(256 * MIB));
    assertEquals(usable / 100 * 40, b.fisherBytes());
    assertEquals(usable / 100 * 20, b.batchBytes());
    assertEquals(usable / 100 * 20, b.uploadBytes());
    assertEquals(usable / 100 * 20, b.requestBytes());
    assertEquals(256 * MIB / 100 * 40, b.gradientBytes());
    assertTrue(b.fisherBytes() + b.batchBytes() + b.uploadBytes() + b.requestBytes()
        + MemoryBudget.reserveBytes(b.heapBytes()) <= b.heapBytes());
    assertEquals(b.batchBytes() / 2, b.rowChunkBytes());
    assertEquals(b.requestBytes(), b.defaultMaxMessageBytes()); // under 64 MiB
  }

  @Test
  void aLargeHeapReservesAnEighthAndCapsTheMessageLimit() {
    MemoryBudget b = MemoryBudget.of(4096 * MIB, 1024 * MIB);
    assertEquals(512 * MIB, MemoryBudget.reserveBytes(4096 * MIB));
    assertEquals(3584 * MIB / 100 * 40, b.fisherBytes());
    assertEquals(1024 * MIB / 100 * 40, b.gradientBytes());
    assertEquals(64 * MIB, b.defaultMaxMessageBytes());
  }

  @Test
  void explicitSharesWinAndZeroMeansTheJvmsLimits() {
    MemoryBudget b = MemoryBudget.of(0, 0, 12345, 678);
    assertEquals(Runtime.getRuntime().maxMemory(), b.heapBytes());
    assertEquals(MemoryBudget.jvmDirectLimit(), b.directBytes());
    assertEquals(12345, b.fisherBytes());
    assertEquals(678, b.gradientBytes());
    assertTrue(b.describe().startsWith("memory budget: heap "), b.describe());
  }

  @Test
  void negativeFiguresNameTheirFlag() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> MemoryBudget.of(0, 0, -1, 0));
    assertTrue(e.getMessage().startsWith("--fisher-memory-bytes"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> MemoryBudget.of(0, -5, 0, 0));
    assertTrue(e.getMessage().startsWith("--direct-budget-bytes"), e.getMessage());
  }
}
