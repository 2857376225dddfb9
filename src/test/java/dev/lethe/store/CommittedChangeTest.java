package dev.lethe.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.onnx.OnnxBuilder;
import dev.lethe.storage.LetheDb;
import dev.lethe.testing.Fixtures;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13: a committed change is answered as committed whatever its watchers do, and a model
 * whose declared input would not fit the memory budget is refused before anything allocates it.
 */
class CommittedChangeTest {
  @TempDir Path dir;

  @Test
  void aWatcherThatRunsOutOfMemoryNeitherFailsNorUndoesTheChange() {
    try (LetheDb db = LetheDb.open(dir);
        ModelStore store = new ModelStore(db, OrtEnvironment.getEnvironment(),
            new StoreConfig(10, 1 << 20))) {
      store.put(Fixtures.spec("m"), Fixtures.mlp(1).onnx());
      List<Double> seen = new ArrayList<>();
      int[] calls = {0};
      store.watch("m", s -> {
        if (calls[0]++ > 0) {
          throw new OutOfMemoryError("Java heap space"); // as an unbounded watcher buffer would
        }
      });
      store.watch("m", s -> seen.add(s.spec().scale()));
      assertEquals(0.5, store.setScale("m", 0.5).spec().scale());
      assertEquals(0.25, store.setScale("m", 0.25).spec().scale());
      assertEquals(0.25, store.info("m").spec().scale());
      assertEquals(2, calls[0]); // the failing watcher was dropped after its failure
      assertEquals(List.of(1.0, 0.5, 0.25), seen); // the others are still told
    }
    try (LetheDb db = LetheDb.open(dir);
        ModelStore store = new ModelStore(db, OrtEnvironment.getEnvironment(),
            new StoreConfig(10, 1 << 20))) {
      assertEquals(0.25, store.info("m").spec().scale()); // committed, durably
    }
  }

  @Test
  void aDeclaredInputBeyondTheBudgetIsRefusedNamingItAndNothingIsRegistered() {
    byte[] wide = new OnnxBuilder("wide").opset(17)
        .floatInput("x", -1, 500_000_000L)
        .initializer("w", new float[] {1f}, 1)
        .node("Mul", new String[] {"x", "w"}, new String[] {"y"})
        .floatOutput("y", -1, 500_000_000L)
        .toBytes();
    try (LetheDb db = LetheDb.open(dir);
        ModelStore store = new ModelStore(db, OrtEnvironment.getEnvironment(),
            new StoreConfig(10, 1 << 20))) {
      LetheException e = assertThrows(LetheException.class, () -> store.put(new ModelConfig("wide",
          LossFunction.MEAN_SQUARED_ERROR, "", List.of(), 10, 0, 0, 0, 0, 0), wide));
      assertEquals(LetheException.Kind.RESOURCE_EXHAUSTED, e.kind());
      assertTrue(e.getMessage().startsWith("chunk: graph input 'x' declares [N, 500000000], "
          + "2000000000 bytes per sample"), e.getMessage());
      assertEquals(List.of(), store.list());
    }
  }
}
