package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import org.junit.jupiter.api.Test;

/** An allocation the JVM refuses is answered RESOURCE_EXHAUSTED naming what ran out and the flag. */
class OutOfMemoryAnswerTest {
  @Test
  void heapExhaustionNamesTheHeapAndTheFlags() {
    Status s = Errors.toStatus(new OutOfMemoryError("Java heap space")).getStatus();
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, s.getCode());
    assertTrue(s.getDescription().contains("out of heap memory (Java heap space)"), s.getDescription());
    assertTrue(s.getDescription().contains("-Xmx"), s.getDescription());
    assertTrue(s.getDescription().contains("--fisher-memory-bytes"), s.getDescription());
  }

  @Test
  void directExhaustionNamesDirectMemoryAndTheGradientPool() {
    Status s = Errors.toStatus(new OutOfMemoryError(
        "Cannot reserve 264126464 bytes of direct buffer memory (allocated: 1, limit: 2)")).getStatus();
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, s.getCode());
    assertTrue(s.getDescription().contains("out of direct memory"), s.getDescription());
    assertTrue(s.getDescription().contains("-XX:MaxDirectMemorySize"), s.getDescription());
    assertTrue(s.getDescription().contains("--gradient-memory-bytes"), s.getDescription());
  }
}
