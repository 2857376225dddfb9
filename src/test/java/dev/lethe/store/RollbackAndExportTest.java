package dev.lethe.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import dev.lethe.core.LetheException;
import dev.lethe.onnx.WeightSplicer;
import dev.lethe.storage.LetheDb;
import dev.lethe.testing.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Erase-made versions, the ledger they write, rollback past them, and the export directory. */
class RollbackAndExportTest {
  @TempDir Path dir;

  private static byte[] weightsOf(Fixtures.Mlp m) {
    return WeightSplicer.split(m.onnx(), List.of("W1", "b1", "W2", "b2"), new long[] {12, 3, 9, 3})
        .weights();
  }

  /** Commits an erase's value as the Eraser does (the new weights given, no SSSE step). */
  private static ModelState erase(ModelStore store, long expected, Fixtures.Mlp weights, String... ids) {
    try (EraseSession s = store.openErase("m", "", List.of(ids))) {
      assertEquals(expected, s.version());
      s.commit(new EraseCommit(VersionWeights.directBytes(floats(weightsOf(weights))), s.trainSize() - ids.length, "", 0, s.idHashes(), "", "", null));
    }
    return store.info("m");
  }

  private static float[] floats(byte[] littleEndian) {
    float[] f = new float[littleEndian.length / 4];
    java.nio.ByteBuffer.wrap(littleEndian).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
    return f;
  }

  private static byte[] served(ModelStore store, long version) throws Exception {
    try (ModelFile f = store.open("m", version)) {
      return f.content().readAllBytes();
    }
  }

  private boolean erased(ModelStore store, String id) {
    return store.isErased("m", id);
  }

  @Test
  void rollbackPastAnErasureNeedsAllowUneraseAndIsRecorded() throws Exception {
    Path export = dir.resolve("export");
    try (LetheDb db = LetheDb.open(dir.resolve("db"));
        ModelStore store = new ModelStore(db, OrtEnvironment.getEnvironment(),
            new StoreConfig(3, 1 << 20, export))) {
      store.put(Fixtures.spec("m"), Fixtures.mlp(1).onnx());
      ModelState v2 = erase(store, 1, Fixtures.mlp(2), "alice", "bob");
      assertEquals(2, v2.activeVersion());
      assertEquals(98, v2.trainSize());
      assertEquals("erase", v2.versions().get(1).origin());
      assertArrayEquals(Fixtures.mlp(2).onnx(), served(store, 2));
      assertTrue(erased(store, "alice"));
      assertFalse(erased(store, "carol"));

      // An erase session starts from the active version, under the model's lock, and reports
      // which ids its lineage erased (a stale expected_version is the Eraser's refusal, tested
      // through the RPC in EraseLifecycleTest); closed without a commit it changes nothing.
      try (EraseSession s = store.openErase("m", "", List.of("alice", "carol"))) {
        assertEquals(2, s.version());
        assertEquals(98, s.trainSize());
        assertTrue(s.erasedBefore(0));
        assertFalse(s.erasedBefore(1));
      }
      assertEquals(2, store.info("m").activeVersion());
      assertEquals(2, store.info("m").versions().size());

      int eventsBefore = store.listErasures("m", 0, "").entries().size();
      LetheException refused = assertThrows(LetheException.class, () -> store.setActive("m", 1, false));
      assertEquals(LetheException.Kind.FAILED_PRECONDITION, refused.kind());
      assertEquals(2, store.info("m").activeVersion());
      assertEquals(eventsBefore, store.listErasures("m", 0, "").entries().size());

      store.setActive("m", 1, true);
      assertEquals(100, store.info("m").trainSize()); // the version's own train_size is back
      assertFalse(erased(store, "alice"));
      List<LedgerEntry> events = store.listErasures("m", 0, "").entries();
      assertEquals(4, events.size());
      assertEquals(2, events.stream().filter(e -> e.event().equals("unerase")).count());
      assertEquals("1", Files.readString(export.resolve("m/config.pbtxt")).replaceAll("(?s).*versions: \\[ (\\d+) \\].*", "$1").trim());

      store.setActive("m", 2, false); // forward again: re-erases, no precondition
      assertTrue(erased(store, "bob"));
      assertEquals(6, store.listErasures("m", 0, "").entries().size());
      assertArrayEquals(served(store, 2), Files.readAllBytes(export.resolve("m/2/model.onnx")));
    }
  }

  @Test
  void ledgerPagesAndSurvivesReopenAndExportPrunes() throws Exception {
    Path export = dir.resolve("export");
    StoreConfig config = new StoreConfig(2, 1 << 20, export);
    try (LetheDb db = LetheDb.open(dir.resolve("db"));
        ModelStore store = new ModelStore(db, OrtEnvironment.getEnvironment(), config)) {
      store.put(Fixtures.spec("m"), Fixtures.mlp(1).onnx());
      erase(store, 1, Fixtures.mlp(2), "a", "b", "c");
      erase(store, 2, Fixtures.mlp(3), "d", "e");
      assertFalse(Files.exists(export.resolve("m/1")), "pruned with the retention");
      assertTrue(Files.exists(export.resolve("m/3/model.onnx")));
    }
    try (LetheDb db = LetheDb.open(dir.resolve("db"));
        ModelStore store = new ModelStore(db, OrtEnvironment.getEnvironment(), config)) {
      assertTrue(erased(store, "a") && erased(store, "e"));
      EraseLedger.Page p1 = store.listErasures("m", 2, "");
      EraseLedger.Page p2 = store.listErasures("m", 2, p1.nextPageToken());
      EraseLedger.Page p3 = store.listErasures("m", 2, p2.nextPageToken());
      assertEquals(List.of(2, 2, 1), List.of(p1.entries().size(), p2.entries().size(), p3.entries().size()));
      assertEquals("", p3.nextPageToken());
      assertEquals(5, java.util.stream.Stream.of(p1, p2, p3).flatMap(p -> p.entries().stream())
          .map(LedgerEntry::idKey).distinct().count());
      LetheException bad = assertThrows(LetheException.class, () -> store.listErasures("m", 2, "zz"));
      assertEquals(LetheException.Kind.INVALID_ARGUMENT, bad.kind());
    }
  }
}
