package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.CheckErasureRequest;
import dev.lethe.api.v1.DeleteModelRequest;
import dev.lethe.api.v1.DeleteModelResponse;
import dev.lethe.api.v1.GetModelRequest;
import dev.lethe.api.v1.ListErasuresRequest;
import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelSpec;
import dev.lethe.api.v1.ModelStoreGrpc;
import dev.lethe.api.v1.UpdateSpecRequest;
import dev.lethe.core.Samples;
import dev.lethe.erase.EraseConfig;
import dev.lethe.server.Security;
import dev.lethe.server.ServerConfig;
import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Specs that cannot be half-made, and the model lifecycle: train_size required at PutModel,
 * DeleteModel (one commit, ledger kept, the name's version numbers and attestation carried on),
 * UpdateSpec (only safe fields, with a write token), ModelInfo.fisher, and the candidates a
 * wrong logits or erasable name lists. Every refusal asserts its code and that nothing changed.
 */
class ModelLifecycleTest {
  private static final int N = 100; // Fixtures.spec's train_size
  @TempDir Path dir;

  private static StatusRuntimeException refused(Status.Code code,
      org.junit.jupiter.api.function.Executable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    return e;
  }

  private static List<ModelInfo> models(ServerHarness h) {
    return h.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsList();
  }

  private static ModelSpec spec(String name) {
    return ModelMessages.spec(Fixtures.spec(name));
  }

  @Test
  void putModelNeedsTrainSizeAndNamesCandidates() throws Exception {
    try (ServerHarness h = new ServerHarness(dir, 1 << 20)) {
      byte[] onnx = Fixtures.mlp(1).onnx();
      var e = refused(Status.Code.INVALID_ARGUMENT,
          () -> h.put(spec("m").toBuilder().setTrainSize(0).build(), onnx));
      assertTrue(e.getMessage().contains("spec.train_size: required"), e.getMessage());
      e = refused(Status.Code.INVALID_ARGUMENT,
          () -> h.put(spec("m").toBuilder().setLogitsOutput("probz").build(), onnx));
      assertTrue(e.getMessage().contains("spec.logits_output")
          && e.getMessage().contains("candidates: 'logits', 'probs'"), e.getMessage());
      e = refused(Status.Code.INVALID_ARGUMENT,
          () -> h.put(spec("m").toBuilder().addErasableParameters("W9").build(), onnx));
      assertTrue(e.getMessage().contains("spec.erasable_parameters")
          && e.getMessage().contains("float initializers: 'W1', 'b1', 'W2', 'b2'"), e.getMessage());
      e = refused(Status.Code.INVALID_ARGUMENT, () -> h.put(spec("m").toBuilder()
          .setFeatureMin(1).setFeatureMax(0).build(), onnx));
      assertTrue(e.getMessage().contains("spec.feature_max"), e.getMessage());
      assertEquals(List.of(), models(h)); // nothing registered by any refusal
      ModelInfo ok = h.put(spec("m").toBuilder().setFeatureScale(0.5).setFeatureOffset(-1)
          .setFeatureMin(-1).setFeatureMax(1).build(), onnx);
      assertEquals(0.5, ok.getSpec().getFeatureScale());
      assertEquals(-1, ok.getSpec().getFeatureOffset());
      assertEquals(1, ok.getSpec().getFeatureMax());
      assertEquals(1.0, h.put(spec("n"), onnx).getSpec().getFeatureScale()); // 0 = 1
    }
  }

  @Test
  void modelInfoDescribesTheFisher() throws Exception {
    try (ServerHarness h = new ServerHarness(dir, 1 << 20)) {
      h.put(spec("m"), Fixtures.mlp(1).onnx());
      assertFalse(models(h).get(0).hasFisher());
      BuildFisherProgress done = EraseRpc.buildFisher(h.async, "m", Fixtures.batch(7, N));
      ModelInfo info = models(h).get(0);
      assertTrue(info.getFisherReady() && info.hasFisher());
      var f = info.getFisher();
      assertEquals(done.getSummary().getFisherId(), f.getFisherId());
      assertEquals(dev.lethe.api.v1.FisherKind.EMPIRICAL, f.getFisherKind());
      assertEquals("block_diagonal", f.getStructure());
      assertEquals(N, f.getSamples());
      assertEquals(10, f.getBlockSize());
      assertEquals(done.getSummary().getBlocks(), f.getBlocks());
      assertEquals(1, f.getVersion());
      assertEquals(done.getSummary().getBytes(), f.getBytes());
      assertEquals(0.01, f.getDampening()); // = l2
    }
  }

  @Test
  void deleteModelRemovesEverythingButTheLedger() throws Exception {
    try (ServerHarness h = new ServerHarness(dir, 1 << 20)) {
      byte[] onnx = Fixtures.mlp(1).onnx();
      h.put(spec("m"), onnx);
      h.put(spec("keep"), onnx);
      Samples train = Fixtures.batch(7, N);
      EraseRpc.buildFisher(h.async, "m", train);
      assertEquals(2, h.blocking.erase(EraseRpc.erase("m", "r1", train, 0, 1)).getVersion());
      refused(Status.Code.NOT_FOUND, () -> h.blocking.deleteModel(
          DeleteModelRequest.newBuilder().setName("nope").build()));
      refused(Status.Code.FAILED_PRECONDITION, () -> h.blocking.deleteModel(
          DeleteModelRequest.newBuilder().setName("m").setExpectedVersion(1).build()));
      assertEquals(2, models(h).size()); // refusals changed nothing

      java.util.Iterator<ModelInfo> watch = h.blocking.watchModel(
          dev.lethe.api.v1.WatchModelRequest.newBuilder().setName("m").build());
      assertEquals(2, watch.next().getActiveVersion());
      DeleteModelResponse d = h.blocking.deleteModel(
          DeleteModelRequest.newBuilder().setName("m").setExpectedVersion(2).build());
      var gone = refused(Status.Code.NOT_FOUND, watch::next); // the watch ends with the model
      assertTrue(gone.getMessage().contains("model 'm' was deleted"), gone.getMessage());
      assertEquals(2, d.getVersionsDeleted());
      assertEquals(1, d.getFishersDeleted());
      assertEquals(2, d.getLedgerEntriesKept());
      assertEquals(List.of("keep"), models(h).stream().map(ModelInfo::getName).toList());
      refused(Status.Code.NOT_FOUND, () -> h.blocking.getModel(
          GetModelRequest.newBuilder().setName("m").build()).next());
      var db = h.server.database();
      for (Family f : List.of(Family.GRAPHS, Family.WEIGHTS, Family.FISHER, Family.REQUESTS)) {
        int[] keys = {0};
        db.scan(f, Keys.modelPrefix("m"), (k, v) -> keys[0]++);
        assertEquals(0, keys[0], f + " still holds keys of the deleted model");
      }
      assertEquals(null, db.get(Family.MODELS, Keys.model("m")));
      int[] kept = {0};
      db.scan(Family.WEIGHTS, Keys.modelPrefix("keep"), (k, v) -> kept[0]++);
      assertTrue(kept[0] > 0, "the other model's weights stay");
      // The ledger stays: the erasures are still listed and their ids still known.
      assertEquals(2, h.blocking.listErasures(ListErasuresRequest.newBuilder().setName("m")
          .build()).getErasuresCount());
      var check = h.blocking.checkErasure(CheckErasureRequest.newBuilder().setName("m")
          .addIds("s0").addIds("s5").build());
      assertEquals("erase", check.getStatuses(0).getLastEvent());
      assertEquals("", check.getStatuses(1).getLastEvent());

      // The name again: the pre-erasure file needs the attestation; numbering continues at 3.
      var e = refused(Status.Code.FAILED_PRECONDITION, () -> h.put(spec("m"), onnx));
      assertTrue(e.getMessage().contains("spec.trained_without_erased"), e.getMessage());
      assertEquals(1, models(h).size());
      ModelInfo again = h.put(spec("m").toBuilder().setTrainedWithoutErased(true)
          .setTrainSize(N - 2).build(), onnx);
      assertEquals(3, again.getActiveVersion());
      assertTrue(again.getVersions(0).getTrainedWithoutErased());
      assertEquals(2, again.getVersions(0).getErasedIdsAttested());
      assertFalse(again.getFisherReady());
    }
    // The deletion is durable: a restart sees the new model only, numbered after the old one.
    try (ServerHarness h = new ServerHarness(dir, 1 << 20)) {
      assertEquals(3, models(h).stream().filter(m -> m.getName().equals("m")).findFirst()
          .orElseThrow().getActiveVersion());
    }
  }

  @Test
  void updateSpecChangesOnlySafeFields() throws Exception {
    try (ServerHarness h = new ServerHarness(dir, 1 << 20)) {
      h.put(spec("m"), Fixtures.mlp(1).onnx());
      ModelInfo before = models(h).get(0);
      UpdateSpecRequest.Builder u = UpdateSpecRequest.newBuilder().setName("m");
      var e = refused(Status.Code.INVALID_ARGUMENT, () -> h.blocking.updateSpec(u.build()));
      assertTrue(e.getMessage().contains("fields"), e.getMessage());
      e = refused(Status.Code.INVALID_ARGUMENT, () -> h.blocking.updateSpec(u.clone()
          .addFields("loss").build()));
      assertTrue(e.getMessage().contains("'loss' cannot be changed"), e.getMessage());
      refused(Status.Code.INVALID_ARGUMENT, () -> h.blocking.updateSpec(u.clone()
          .addFields("colour").build()));
      e = refused(Status.Code.INVALID_ARGUMENT, () -> h.blocking.updateSpec(u.clone()
          .setSpec(ModelSpec.newBuilder().setScale(-1)).addFields("scale").build()));
      assertTrue(e.getMessage().contains("spec.scale"), e.getMessage());
      refused(Status.Code.INVALID_ARGUMENT, () -> h.blocking.updateSpec(u.clone()
          .setSpec(ModelSpec.newBuilder().setTrainSize(0)).addFields("train_size").build()));
      refused(Status.Code.NOT_FOUND, () -> h.blocking.updateSpec(u.clone().setName("nope")
          .addFields("scale").build()));
      assertEquals(before, models(h).get(0));

      // Before a Fisher: the training facts may be corrected; the other fields always.
      ModelInfo fixed = h.blocking.updateSpec(u.clone().setSpec(ModelSpec.newBuilder()
          .setTrainSize(N).setL2(0.02).setFeatureScale(0.25).setBlockSize(7).setScale(3))
          .addFields("train_size").addFields("l2").addFields("feature_scale")
          .addFields("block_size").build());
      assertEquals(N, fixed.getTrainSize());
      assertEquals(0.02, fixed.getSpec().getL2());
      assertEquals(0.02, fixed.getSpec().getDampening()); // the default follows mu
      assertEquals(0.25, fixed.getSpec().getFeatureScale());
      assertEquals(7, fixed.getSpec().getBlockSize());
      assertEquals(1.0, fixed.getSpec().getScale()); // not named, not changed
      assertEquals(before.getVersionsList(), fixed.getVersionsList()); // no version made

      EraseRpc.buildFisher(h.async, "m", Fixtures.batch(7, N));
      ModelInfo built = models(h).get(0);
      e = refused(Status.Code.FAILED_PRECONDITION, () -> h.blocking.updateSpec(u.clone()
          .setSpec(ModelSpec.newBuilder().setL2(0.5)).addFields("l2").build()));
      assertTrue(e.getMessage().contains("has a Fisher"), e.getMessage());
      assertEquals(built, models(h).get(0));
      ModelInfo scaled = h.blocking.updateSpec(u.clone().setSpec(ModelSpec.newBuilder()
          .setFeatureOffset(2).setFeatureMin(0).setFeatureMax(4))
          .addFields("feature_offset").addFields("feature_min").addFields("feature_max").build());
      assertEquals(2, scaled.getSpec().getFeatureOffset());
      assertTrue(scaled.getFisherReady(), "a safe change keeps the Fisher");
    }
    try (ServerHarness h = new ServerHarness(dir, 1 << 20)) {
      assertEquals(4, models(h).get(0).getSpec().getFeatureMax()); // persisted
    }
  }

  @Test
  void deleteAndUpdateSpecNeedAWriteToken() throws Exception {
    Security tokens = new Security(null, null, null, Set.of("w-token"), Set.of("r-token"), false);
    ServerConfig config = new ServerConfig("127.0.0.1:0", dir, new StoreConfig(10, 1 << 20),
        64 << 20, false, 5, EraseConfig.defaults(), 1L << 30, tokens);
    try (ServerHarness h = new ServerHarness(config,
        store -> store.put(Fixtures.spec("m"), Fixtures.mlp(1).onnx()))) {
      List<ModelInfo> before = models(h);
      DeleteModelRequest delete = DeleteModelRequest.newBuilder().setName("m").build();
      UpdateSpecRequest update = UpdateSpecRequest.newBuilder().setName("m")
          .setSpec(ModelSpec.newBuilder().setScale(2)).addFields("scale").build();
      refused(Status.Code.UNAUTHENTICATED, () -> h.blocking.deleteModel(delete));
      refused(Status.Code.PERMISSION_DENIED, () -> as(h, "r-token").deleteModel(delete));
      refused(Status.Code.UNAUTHENTICATED, () -> h.blocking.updateSpec(update));
      refused(Status.Code.PERMISSION_DENIED, () -> as(h, "r-token").updateSpec(update));
      assertEquals(before, models(h));
      assertEquals(2, as(h, "w-token").updateSpec(update).getSpec().getScale());
      assertEquals(1, as(h, "w-token").deleteModel(delete).getVersionsDeleted());
    }
  }

  @Test
  void theLogHasOneLinePerStateChangeAndNoIds() throws Exception {
    java.util.logging.Logger log = java.util.logging.Logger.getLogger("dev.lethe.changes");
    List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.logging.Handler capture = new java.util.logging.Handler() {
      @Override
      public void publish(java.util.logging.LogRecord r) {
        if (r.getLevel() == java.util.logging.Level.INFO) {
          lines.add(r.getMessage());
        }
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    log.addHandler(capture);
    try (ServerHarness h = new ServerHarness(dir, 1 << 20)) {
      h.put(spec("m"), Fixtures.mlp(1).onnx());
      Samples train = Fixtures.batch(7, N);
      EraseRpc.buildFisher(h.async, "m", train);
      h.blocking.erase(EraseRpc.erase("m", "gdpr-7", train, 3, 4));
      h.blocking.updateSpec(UpdateSpecRequest.newBuilder().setName("m")
          .setSpec(ModelSpec.newBuilder().setScale(2)).addFields("scale").build());
      h.blocking.setActiveVersion(dev.lethe.api.v1.SetActiveVersionRequest.newBuilder()
          .setName("m").setVersion(1).setAllowUnerase(true).build());
      h.blocking.deleteModel(DeleteModelRequest.newBuilder().setName("m").build());
      refused(Status.Code.NOT_FOUND, () -> h.blocking.deleteModel(
          DeleteModelRequest.newBuilder().setName("m").build())); // a refusal logs nothing
    } finally {
      log.removeHandler(capture);
    }
    assertEquals(6, lines.size(), lines.toString());
    List<String> kinds = lines.stream().map(l -> l.substring(0, l.indexOf(' '))).toList();
    assertEquals(List.of("put-model", "build-fisher", "erase", "update-spec", "activate",
        "delete-model"), kinds);
    assertTrue(lines.get(2).contains("m -> version 2: k 2") && lines.get(2).contains("'gdpr-7'")
        && lines.get(2).contains("solve"), lines.get(2));
    for (String l : lines) {
      assertFalse(l.matches(".*\\bs[34]\\b.*"), "a sample id in the log: " + l);
    }
  }

  private static ModelStoreGrpc.ModelStoreBlockingStub as(ServerHarness h, String token) {
    Metadata m = new Metadata();
    m.put(TokenAuthInterceptor.AUTHORIZATION, "Bearer " + token);
    return h.blocking.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
  }
}
