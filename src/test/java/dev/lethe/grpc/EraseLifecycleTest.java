package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.Erasure;
import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.SetActiveVersionRequest;
import dev.lethe.api.v1.WatchModelRequest;
import dev.lethe.core.Batches;
import dev.lethe.core.Samples;
import dev.lethe.core.DenseTensor;
import dev.lethe.erase.EraseConfig;
import dev.lethe.server.ServerConfig;
import dev.lethe.storage.Family;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Erase's guards, rollback across an erase, and WatchModel, through an in-process server. */
class EraseLifecycleTest {
  private static final String MODEL = "mlp";
  private static final int N = 40;
  private static final int MAX_SAMPLES = 8;
  @TempDir Path dir;
  private final Samples train = Fixtures.batch(42, N);
  private ServerHarness lethe;

  private void start(EraseConfig erase) throws Exception {
    lethe = new ServerHarness(new ServerConfig("127.0.0.1:0", dir, new StoreConfig(10, 1 << 20),
        64 << 20, false, 5, erase, ServerConfig.DEFAULT_FISHER_MEMORY_BYTES), store -> {});
    EraseRpc.put(lethe.async, Fixtures.spec(MODEL).withTrainSize(N), Fixtures.mlp(41).onnx());
    EraseRpc.buildFisher(lethe.async, MODEL, train);
  }

  @AfterEach
  void stop() throws Exception {
    if (lethe != null) {
      lethe.close();
    }
  }

  /** Everything observable about the store: models, ledger, and every RocksDB record's digest. */
  private record Snapshot(List<ModelInfo> models, Map<String, List<Erasure>> ledgers,
      Map<String, String> records) {}

  private Snapshot snapshot() {
    List<ModelInfo> models = lethe.blocking.listModels(ListModelsRequest.getDefaultInstance())
        .getModelsList();
    Map<String, List<Erasure>> ledgers = new TreeMap<>();
    models.forEach(m -> ledgers.put(m.getName(), EraseRpc.ledger(lethe.blocking, m.getName())));
    Map<String, String> records = new TreeMap<>();
    for (Family f : Family.values()) {
      lethe.server.database().scan(f, new byte[0], (k, v) ->
          records.put(f + "/" + HexFormat.of().formatHex(k), EraseRpc.sha256(v)));
    }
    return new Snapshot(models, ledgers, records);
  }

  private void assertRefusedAndUnchanged(Status.Code code, String inMessage, Runnable call) {
    Snapshot before = snapshot();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    String message = e.getStatus().getDescription();
    assertTrue(message != null && message.contains(inMessage), message);
    assertEquals(before, snapshot(), "a refused request changes nothing");
  }

  private EraseResponse erase(EraseRequest r) {
    return lethe.blocking.withDeadlineAfter(EraseRpc.TIMEOUT_S, TimeUnit.SECONDS).erase(r);
  }

  @Test
  void anUpdateAboveTheRatioIsRefusedAndChangesNothing() throws Exception {
    start(new EraseConfig(10_000, 1e-9, 64 << 20));
    assertRefusedAndUnchanged(Status.Code.FAILED_PRECONDITION, "max-update-ratio",
        () -> erase(EraseRpc.erase(MODEL, "r1", train, 0, 1, 2)));
    // Not even the request id was kept: the same id with other samples is refused the same way,
    // not as a reused id (INVALID_ARGUMENT).
    assertRefusedAndUnchanged(Status.Code.FAILED_PRECONDITION, "max-update-ratio",
        () -> erase(EraseRpc.erase(MODEL, "r1", train, 3)));
    ModelInfo info = EraseRpc.info(lethe.blocking, MODEL);
    assertEquals(1, info.getActiveVersion());
    assertEquals(N, info.getTrainSize());
  }

  @Test
  void refusedErasesHaveExactCodesAndChangeNothing() throws Exception {
    start(new EraseConfig(MAX_SAMPLES, 1.0, 64 << 20));
    EraseRpc.put(lethe.async, Fixtures.spec("bare").withTrainSize(N), Fixtures.mlp(43).onnx());
    EraseResponse ok = erase(EraseRpc.erase(MODEL, "ok", train, 0, 1));
    assertEquals(2, ok.getVersion());

    int[] tooMany = new int[MAX_SAMPLES + 1];
    for (int i = 0; i < tooMany.length; i++) {
      tooMany[i] = 2 + i;
    }
    assertRefusedAndUnchanged(Status.Code.RESOURCE_EXHAUSTED, "samples",
        () -> erase(EraseRpc.erase(MODEL, "big", train, tooMany)));

    Samples rows = Batches.range(train, 2, 5);
    long[] labels = rows.labels().longs().clone();
    labels[1] = Fixtures.CLASSES; // one past the last class
    Samples badLabel = new Samples(rows.ids(), rows.inputs(),
        DenseTensor.ofLongs(new long[] {3}, labels));
    assertRefusedAndUnchanged(Status.Code.INVALID_ARGUMENT, "samples.labels",
        () -> erase(EraseRequest.newBuilder().setName(MODEL).setRequestId("labels")
            .setSamples(SampleMessages.batch(badLabel)).build()));
    Samples negative = new Samples(rows.ids(), rows.inputs(),
        DenseTensor.ofLongs(new long[] {3}, new long[] {0, -1, 2}));
    assertRefusedAndUnchanged(Status.Code.INVALID_ARGUMENT, "samples.labels",
        () -> erase(EraseRequest.newBuilder().setName(MODEL)
            .setSamples(SampleMessages.batch(negative)).build()));

    assertRefusedAndUnchanged(Status.Code.NOT_FOUND, "nope",
        () -> erase(EraseRpc.erase("nope", "unknown", train, 2)));
    assertRefusedAndUnchanged(Status.Code.FAILED_PRECONDITION, "expected_version",
        () -> erase(EraseRpc.erase(MODEL, "stale", train, 2).toBuilder().setExpectedVersion(1).build()));
    assertRefusedAndUnchanged(Status.Code.FAILED_PRECONDITION, "BuildFisher",
        () -> erase(EraseRpc.erase("bare", "nofisher", train, 2)));
    // Fields are checked before the model's state: bad labels are INVALID_ARGUMENT even there.
    assertRefusedAndUnchanged(Status.Code.INVALID_ARGUMENT, "samples.labels",
        () -> erase(EraseRequest.newBuilder().setName("bare")
            .setSamples(SampleMessages.batch(negative)).build()));
    // A dry run computes and answers, and changes nothing either.
    Snapshot before = snapshot();
    EraseResponse dry = erase(EraseRpc.erase(MODEL, "", train, 2, 3).toBuilder().setDryRun(true).build());
    assertEquals(2, dry.getVersion());
    assertEquals(2, dry.getErased());
    assertEquals(before, snapshot());

    // None of the refused request ids was kept: each now works with a valid request.
    for (String id : List.of("big", "labels", "stale")) {
      EraseResponse r = erase(EraseRpc.erase(MODEL, id, train, 10 + id.length()));
      assertEquals(1, r.getErased(), id);
    }
    // And the current expected_version is accepted.
    long active = EraseRpc.info(lethe.blocking, MODEL).getActiveVersion();
    EraseResponse current = erase(EraseRpc.erase(MODEL, "current", train, 20).toBuilder()
        .setExpectedVersion(active).build());
    assertEquals(active + 1, current.getVersion());
  }

  @Test
  void rollingBackPastAnEraseNeedsAllowUneraseAndThenTheIdsCanBeErasedAgain() throws Exception {
    start(EraseConfig.defaults());
    int[] rows = {0, 1, 2, 3, 4};
    EraseResponse first = erase(EraseRpc.erase(MODEL, "r1", train, rows));
    assertEquals(2, first.getVersion());
    assertEquals(5, first.getErased());
    String sha2 = EraseRpc.version(EraseRpc.info(lethe.blocking, MODEL), 2).getSha256();

    assertRefusedAndUnchanged(Status.Code.FAILED_PRECONDITION, "allow_unerase",
        () -> lethe.blocking.setActiveVersion(SetActiveVersionRequest.newBuilder()
            .setName(MODEL).setVersion(1).build()));
    assertEquals(2, EraseRpc.info(lethe.blocking, MODEL).getActiveVersion());

    ModelInfo back = lethe.blocking.setActiveVersion(SetActiveVersionRequest.newBuilder()
        .setName(MODEL).setVersion(1).setAllowUnerase(true).build());
    assertEquals(1, back.getActiveVersion());
    assertEquals(N, back.getTrainSize());
    assertEquals(back, EraseRpc.info(lethe.blocking, MODEL));
    assertEquals(1, EraseRpc.checkedDownload(lethe.blocking, MODEL, 0, 0).header().getVersion());
    Map<String, List<String>> events = new TreeMap<>();
    for (Erasure e : EraseRpc.ledger(lethe.blocking, MODEL)) {
      events.computeIfAbsent(e.getIdHmac(), k -> new ArrayList<>()).add(e.getEvent() + "@" + e.getVersion());
    }
    Map<String, List<String>> expected = new TreeMap<>();
    for (int row : rows) {
      expected.put(EraseRpc.idKey(dir, train.ids().get(row)), List.of("erase@2", "unerase@1"));
    }
    assertEquals(expected, events);

    // Not erased in this lineage any more: erasing them again removes all five, in a new version.
    EraseResponse again = erase(EraseRpc.erase(MODEL, "r2", train, rows));
    assertEquals(3, again.getVersion());
    assertEquals(5, again.getErased());
    assertEquals(List.of(), again.getAlreadyErasedList());
    ModelInfo info = EraseRpc.info(lethe.blocking, MODEL);
    assertEquals(3, info.getActiveVersion());
    assertEquals(N - 5, info.getTrainSize());
    assertEquals(List.of(1L, 2L, 3L), info.getVersionsList().stream().map(v -> v.getVersion()).toList());
    // The same step from the same weights, Fisher and n as the first erase: the same file.
    assertEquals(sha2, EraseRpc.version(info, 3).getSha256());
    expected.replaceAll((k, v) -> List.of("erase@2", "unerase@1", "erase@3"));
    events.clear();
    for (Erasure e : EraseRpc.ledger(lethe.blocking, MODEL)) {
      events.computeIfAbsent(e.getIdHmac(), k -> new ArrayList<>()).add(e.getEvent() + "@" + e.getVersion());
    }
    assertEquals(expected, events);
  }

  @Test
  void watchModelSeesTheVersionAnEraseMade() throws Exception {
    start(EraseConfig.defaults());
    BlockingQueue<ModelInfo> changes = new LinkedBlockingQueue<>();
    Context.CancellableContext watch = Context.current().withCancellation();
    try {
      watch.run(() -> lethe.async.watchModel(WatchModelRequest.newBuilder().setName(MODEL).build(),
          new StreamObserver<>() {
            @Override
            public void onNext(ModelInfo value) {
              changes.add(value);
            }

            @Override
            public void onError(Throwable t) {}

            @Override
            public void onCompleted() {}
          }));
      ModelInfo initial = poll(changes);
      assertEquals(1, initial.getActiveVersion());
      assertTrue(initial.getFisherReady());

      EraseResponse r = erase(EraseRpc.erase(MODEL, "w", train, 0, 1, 2));
      ModelInfo next = poll(changes);
      assertEquals(r.getVersion(), next.getActiveVersion());
      assertEquals(2, next.getActiveVersion());
      assertEquals(N - 3, next.getTrainSize());
      assertTrue(next.getFisherReady(), "the erase version carries the Fisher");
      assertEquals("erase", EraseRpc.version(next, 2).getOrigin());
      assertEquals(EraseRpc.version(EraseRpc.info(lethe.blocking, MODEL), 2),
          EraseRpc.version(next, 2));
      assertEquals(EraseRpc.checkedDownload(lethe.blocking, MODEL, 0, 0).sha256(),
          EraseRpc.version(next, 2).getSha256());
      // A replay and a dry run make no version: nothing more is announced.
      erase(EraseRpc.erase(MODEL, "w", train, 0, 1, 2));
      erase(EraseRpc.erase(MODEL, "", train, 5).toBuilder().setDryRun(true).build());
      EraseResponse second = erase(EraseRpc.erase(MODEL, "w2", train, 3));
      ModelInfo third = poll(changes);
      assertEquals(second.getVersion(), third.getActiveVersion());
      assertEquals(3, third.getActiveVersion());
      assertFalse(changes.iterator().hasNext(), "one message per change: " + changes);
    } finally {
      watch.cancel(null);
    }
  }

  private static ModelInfo poll(BlockingQueue<ModelInfo> q)
      throws InterruptedException {
    ModelInfo m = q.poll(EraseRpc.TIMEOUT_S, TimeUnit.SECONDS);
    assertNotNull(m, "no WatchModel message within " + EraseRpc.TIMEOUT_S + " s");
    return m;
  }
}
