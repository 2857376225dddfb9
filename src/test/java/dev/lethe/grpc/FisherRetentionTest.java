package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.SetActiveVersionRequest;
import dev.lethe.core.Samples;
import dev.lethe.fisher.FisherStore;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #14 finding 2 through the real server: 15 erases with downdate_fisher under retention 3
 * left 16 Fishers stored, 3 referenced. Now every Fisher no kept version references is deleted in
 * the write that drops the reference: retention, downdate, rebuild, rollback.
 */
class FisherRetentionTest {
  private static final String MODEL = "mlp";
  private static final int N = 60;
  @TempDir Path dir;
  private final Samples train = Fixtures.batch(21, N);

  private static Set<String> referenced(ModelInfo info, ServerHarness h) {
    Set<String> ids = new TreeSet<>();
    dev.lethe.storage.LetheDb db = h.server.database();
    db.scan(dev.lethe.storage.Family.MODELS, dev.lethe.storage.Keys.model(MODEL), (k, v) -> {
      try {
        dev.lethe.storage.records.ModelRecord.parseFrom(v).getVersionsList().forEach(x -> {
          if (!x.getFisherId().isEmpty()) {
            ids.add(x.getFisherId());
          }
        });
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new AssertionError(e);
      }
    });
    // retention 3, and the version a kept Fisher was built at is kept while it is in use
    assertTrue(info.getVersionsCount() <= 4, "retention 3: " + info.getVersionsCount() + " versions");
    return ids;
  }

  private static Set<String> stored(ServerHarness h) {
    Map<String, Set<String>> all = FisherStore.storedIds(h.server.database());
    return all.getOrDefault(MODEL, Set.of());
  }

  @Test
  void onlyReferencedFishersStayStored() throws Exception {
    ServerConfig c = new ServerConfig("127.0.0.1:0", dir, new StoreConfig(3, 1 << 20), 64 << 20,
        false, 5);
    try (ServerHarness h = new ServerHarness(c, store -> {})) {
      EraseRpc.put(h.async, Fixtures.spec(MODEL).withTrainSize(N), Fixtures.mlp(4).onnx());
      EraseRpc.buildFisher(h.async, MODEL, train);
      for (int row = 0; row < 15; row++) {
        EraseRequest req = EraseRpc.erase(MODEL, "r" + row, train, row).toBuilder()
            .setDowndateFisher(true).build();
        assertEquals(1, h.blocking.erase(req).getErased());
        ModelInfo info = EraseRpc.info(h.blocking, MODEL);
        assertEquals(referenced(info, h), stored(h), "after erase " + row);
        // a downdate replaces the Fisher: only the new version references one, the old is gone
        assertEquals(1, referenced(info, h).size(), "after erase " + row);
      }
      assertTrue(stored(h).size() <= 3, stored(h).toString());
      // A rebuild on the active version replaces its Fisher; the old one goes if unreferenced.
      EraseRpc.buildFisher(h.async, MODEL, dev.lethe.core.Batches.range(train, 15, N));
      ModelInfo info = EraseRpc.info(h.blocking, MODEL);
      assertEquals(referenced(info, h), stored(h), "after the rebuild");
      // A dry run with downdate_fisher writes no Fisher.
      Set<String> before = stored(h);
      h.blocking.erase(EraseRpc.erase(MODEL, "", train, 40).toBuilder().setDowndateFisher(true)
          .setDryRun(true).build());
      assertEquals(before, stored(h));
      // Rolling back keeps every version, so every referenced Fisher stays.
      long oldest = info.getVersions(0).getVersion();
      h.blocking.setActiveVersion(SetActiveVersionRequest.newBuilder().setName(MODEL)
          .setVersion(oldest).setAllowUnerase(true).build());
      info = EraseRpc.info(h.blocking, MODEL);
      assertEquals(referenced(info, h), stored(h), "after the rollback");
    }
  }
}
