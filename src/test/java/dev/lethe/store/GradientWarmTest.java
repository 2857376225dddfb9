package dev.lethe.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import dev.lethe.storage.LetheDb;
import dev.lethe.testing.Fixtures;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #12 item 4: the gradient engine is built at PutModel (so no Erase or Gradients call pays
 * for it) and again for every stored model when the store opens; PutModel reports its time.
 */
class GradientWarmTest {
  @TempDir Path dir;

  @Test
  void builtAtRegistrationAndAtOpen() throws Exception {
    try (LetheDb db = LetheDb.open(dir);
        ModelStore store = new ModelStore(db, OrtEnvironment.getEnvironment(), new StoreConfig(3, 1 << 20))) {
      ModelState state = store.put(Fixtures.spec("m"), Fixtures.mlp(1).onnx());
      assertTrue(state.registrationMillis() > 0, "PutModel's time: " + state.registrationMillis());
      assertTrue(store.models.get("m").runtime.gradientsBuilt(), "built by PutModel");
      assertEquals(0, store.info("m").registrationMillis());
      // a new version with another l2 rebuilds it at PutModel too
      store.put(new dev.lethe.core.ModelConfig("m", dev.lethe.core.LossFunction.SOFTMAX_CROSS_ENTROPY, "logits",
          java.util.List.of(), 100, 0.5, 0, 0, 0, 0), Fixtures.mlp(2).onnx());
      assertTrue(store.models.get("m").runtime.gradientsBuilt());
    }
    try (LetheDb db = LetheDb.open(dir);
        ModelStore store = new ModelStore(db, OrtEnvironment.getEnvironment(), new StoreConfig(3, 1 << 20))) {
      assertTrue(store.warmer.await(60_000), "the warm-up finishes");
      assertTrue(store.models.get("m").runtime.gradientsBuilt(), "built when the store opened");
    }
  }

  @Test
  void closingWaitsForTheWarmUpBeforeTheDatabaseCloses() throws Exception {
    try (LetheDb db = LetheDb.open(dir);
        ModelStore store = new ModelStore(db, OrtEnvironment.getEnvironment(), new StoreConfig(3, 1 << 20))) {
      for (int i = 0; i < 4; i++) {
        store.put(Fixtures.spec("m" + i), Fixtures.mlp(i + 1).onnx());
      }
    }
    for (int round = 0; round < 5; round++) {
      ModelStore closedAtOnce;
      try (LetheDb db = LetheDb.open(dir);
          ModelStore store = new ModelStore(db, OrtEnvironment.getEnvironment(), new StoreConfig(3, 1 << 20))) {
        closedAtOnce = store;
      }
      // the store closed (and then the database) while four warm-ups were queued: none may
      // still be running, or its RocksDB read after the close crashes the process (CI did)
      assertTrue(closedAtOnce.warmer.await(0), "a warm-up outlived the store's close");
    }
  }

  @Test
  void aStoreWithoutModelsHasNothingToWarm() throws Exception {
    try (LetheDb db = LetheDb.open(dir);
        ModelStore store = new ModelStore(db, OrtEnvironment.getEnvironment(), new StoreConfig(3, 1 << 20))) {
      assertTrue(store.warmer.await(1_000));
      assertFalse(store.models.containsKey("m"));
    }
  }
}
