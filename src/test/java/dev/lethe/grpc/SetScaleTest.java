package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.SetScaleRequest;
import dev.lethe.api.v1.WatchModelRequest;
import dev.lethe.core.Samples;
import dev.lethe.storage.Family;
import dev.lethe.testing.Fixtures;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SetScale (ε of the SSSE step after upload) through an in-process server over RocksDB: later
 * erases use the new ε, ModelInfo and watchers show it, it survives a restart, refusals change
 * nothing, and it waits for the model's lock as erases do.
 */
class SetScaleTest {
  private static final String MODEL = "mlp";
  private static final int N = 40;
  /**
   * The update is ε/(n−k)·u with u = F⁻¹Σg computed identically before and after: its norm is
   * linear in ε up to double rounding.
   */
  private static final double LINEAR = 1e-9;
  private static final int[] FORGET = {0, 1, 2};
  @TempDir Path dir;
  private final Samples train = Fixtures.batch(42, N);
  private ServerHarness lethe;

  @BeforeEach
  void start() throws Exception {
    lethe = new ServerHarness(dir, 1 << 20);
    EraseRpc.put(lethe.async, Fixtures.spec(MODEL).withTrainSize(N), Fixtures.mlp(41).onnx());
    EraseRpc.buildFisher(lethe.async, MODEL, train);
  }

  @AfterEach
  void stop() throws Exception {
    if (lethe != null) {
      lethe.close();
    }
  }

  private ModelInfo setScale(String name, double scale) {
    return lethe.blocking.withDeadlineAfter(EraseRpc.TIMEOUT_S, TimeUnit.SECONDS)
        .setScale(SetScaleRequest.newBuilder().setName(name).setScale(scale).build());
  }

  private EraseResponse erase(EraseRequest r) {
    return lethe.blocking.withDeadlineAfter(EraseRpc.TIMEOUT_S, TimeUnit.SECONDS).erase(r);
  }

  private double dryRunNorm() {
    EraseResponse r = erase(EraseRpc.erase(MODEL, "", train, FORGET).toBuilder().setDryRun(true)
        .build());
    assertEquals(FORGET.length, r.getErased());
    assertTrue(r.getUpdateNorm() > 0, r.toString());
    return r.getUpdateNorm();
  }

  private static void assertLinear(double expected, double actual) {
    assertEquals(expected, actual, LINEAR * Math.abs(expected));
  }

  @Test
  void laterErasesUseTheNewScaleAndNoVersionIsMade() {
    ModelInfo before = EraseRpc.info(lethe.blocking, MODEL);
    assertEquals(1.0, before.getSpec().getScale(), "the spec's default ε");
    double atOne = dryRunNorm();

    ModelInfo set = setScale(MODEL, 2.5);
    assertEquals(2.5, set.getSpec().getScale());
    assertEquals(before.getVersionsList(), set.getVersionsList(), "SetScale makes no version");
    assertEquals(before.getActiveVersion(), set.getActiveVersion());
    assertEquals(set, EraseRpc.info(lethe.blocking, MODEL));

    double atTwoAndHalf = dryRunNorm();
    assertLinear(2.5 * atOne, atTwoAndHalf);
    EraseResponse committed = erase(EraseRpc.erase(MODEL, "r1", train, FORGET));
    assertEquals(2, committed.getVersion());
    assertLinear(atTwoAndHalf, committed.getUpdateNorm());

    // The erase committed under ε = 2.5 keeps it; a smaller ε shrinks the next update likewise.
    assertEquals(2.5, EraseRpc.info(lethe.blocking, MODEL).getSpec().getScale());
    EraseRequest next = EraseRpc.erase(MODEL, "", train, 3, 4).toBuilder().setDryRun(true).build();
    double nextAt = erase(next).getUpdateNorm();
    setScale(MODEL, 0.5);
    assertLinear(0.5 / 2.5 * nextAt, erase(next).getUpdateNorm());
  }

  @Test
  void theScaleShowsInWatchersAndSurvivesARestart() throws Exception {
    BlockingQueue<ModelInfo> changes = new LinkedBlockingQueue<>();
    Context.CancellableContext watch = Context.current().withCancellation();
    double norm;
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
      assertEquals(1.0, poll(changes).getSpec().getScale());
      ModelInfo set = setScale(MODEL, 0.75);
      assertEquals(set, poll(changes), "watchers get the new ModelInfo");
      assertEquals(0.75, set.getSpec().getScale());
      // Setting the same value again is not a change.
      assertEquals(set, setScale(MODEL, 0.75));
      assertFalse(changes.iterator().hasNext(), "no message without a change: " + changes);
      norm = dryRunNorm();
    } finally {
      watch.cancel(null);
    }

    lethe.close();
    lethe = new ServerHarness(dir, 1 << 20);
    ModelInfo reopened = EraseRpc.info(lethe.blocking, MODEL);
    assertEquals(0.75, reopened.getSpec().getScale(), "the scale survives a restart");
    assertEquals(1, reopened.getVersionsCount());
    assertLinear(norm, dryRunNorm()); // erases after the restart use the stored ε
  }

  /** Everything observable: the models and every RocksDB record's digest. */
  private record Snapshot(List<ModelInfo> models, Map<String, String> records) {}

  private Snapshot snapshot() {
    Map<String, String> records = new TreeMap<>();
    for (Family f : Family.values()) {
      lethe.server.database().scan(f, new byte[0], (k, v) ->
          records.put(f + "/" + HexFormat.of().formatHex(k), EraseRpc.sha256(v)));
    }
    return new Snapshot(
        lethe.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsList(), records);
  }

  private void assertRefused(Status.Code code, String inMessage, String name, double scale) {
    Snapshot before = snapshot();
    StatusRuntimeException e =
        assertThrows(StatusRuntimeException.class, () -> setScale(name, scale));
    assertEquals(code, e.getStatus().getCode(), name + " " + scale + ": " + e.getStatus());
    String message = e.getStatus().getDescription();
    assertTrue(message != null && message.startsWith(inMessage), message);
    assertEquals(before, snapshot(), "a refused SetScale changes nothing");
  }

  @Test
  void refusalsHaveExactCodesAndChangeNothing() {
    assertRefused(Status.Code.NOT_FOUND, "model 'nope'", "nope", 2.0);
    for (double bad : new double[] {0.0, -0.0, -1.0, Double.NaN, Double.POSITIVE_INFINITY,
        Double.NEGATIVE_INFINITY, -Double.MIN_VALUE}) {
      assertRefused(Status.Code.INVALID_ARGUMENT, "scale: ", MODEL, bad);
    }
    // The request is checked before the model is looked up.
    assertRefused(Status.Code.INVALID_ARGUMENT, "scale: ", "nope", Double.NaN);
    assertRefused(Status.Code.INVALID_ARGUMENT, "name: required", "", 2.0);
    assertRefused(Status.Code.INVALID_ARGUMENT, "name: ", "../mlp", 2.0);
    ModelInfo info = EraseRpc.info(lethe.blocking, MODEL);
    assertEquals(1.0, info.getSpec().getScale());
    assertEquals(1, info.getVersionsCount());
    assertEquals(1, info.getActiveVersion());
  }

  @Test
  void setScaleWaitsWhileTheModelIsLockedAsByAnErase() throws Exception {
    CompletableFuture<ModelInfo> result = new CompletableFuture<>();
    Thread setter = new Thread(() -> {
      try {
        result.complete(setScale(MODEL, 3.0));
      } catch (RuntimeException e) {
        result.completeExceptionally(e);
      }
    }, "set-scale");
    // Erases hold this lock from reading the spec to committing; in-process calls run on the
    // caller's thread, so the setter parks on the lock itself.
    try (var erase = lethe.server.store().openErase(MODEL, "", java.util.List.of())) {
      setter.start();
      awaitParkedOnTheModelLock(setter, result);
      assertEquals(1.0, lethe.server.store().info(MODEL).spec().scale());
    }
    assertEquals(3.0, result.get(EraseRpc.TIMEOUT_S, TimeUnit.SECONDS).getSpec().getScale());
    setter.join();
  }

  private static void awaitParkedOnTheModelLock(Thread t, CompletableFuture<?> result) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(EraseRpc.TIMEOUT_S);
    while (System.nanoTime() < deadline) {
      assertFalse(result.isDone(), "SetScale went ahead while the model was locked: " + result);
      List<String> frames = Arrays.stream(t.getStackTrace())
          .map(f -> f.getClassName() + "." + f.getMethodName()).toList();
      if (t.getState() == Thread.State.WAITING
          && frames.stream().anyMatch(f -> f.startsWith("java.util.concurrent.locks.ReentrantLock"))
          && frames.contains("dev.lethe.store.ModelStore.locked")) {
        return;
      }
      Thread.onSpinWait();
    }
    throw new AssertionError("the setter never waited for the model lock: "
        + Arrays.toString(t.getStackTrace()));
  }

  private static ModelInfo poll(BlockingQueue<ModelInfo> q) throws InterruptedException {
    ModelInfo m = q.poll(EraseRpc.TIMEOUT_S, TimeUnit.SECONDS);
    assertNotNull(m, "no WatchModel message within " + EraseRpc.TIMEOUT_S + " s");
    return m;
  }
}
