package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.Erasure;
import dev.lethe.api.v1.EvaluateRequest;
import dev.lethe.api.v1.EvaluateResponse;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelStoreGrpc;
import dev.lethe.api.v1.VersionInfo;
import dev.lethe.core.Batches;
import dev.lethe.core.Samples;
import dev.lethe.server.LetheServer;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import dev.lethe.api.v1.WatchModelRequest;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Erase under concurrency over a real loopback (Netty) server: clients with their own channels
 * erase overlapping id sets at once, and readers download and evaluate the model meanwhile.
 */
class EraseConcurrencyTest {
  private static final String MODEL = "mlp";
  private static final int N = 200;
  private static final int CLIENTS = 8;
  private static final int POOL = 40;
  private static final int PER_REQUEST = 10;
  @TempDir Path dir;
  private final Samples train = Fixtures.batch(42, N);
  private LetheServer server;
  private ManagedChannel admin;
  private ModelStoreGrpc.ModelStoreBlockingStub blocking;
  private final List<ManagedChannel> channels = new ArrayList<>();
  private ExecutorService pool;

  private void start(int retention) throws Exception {
    server = LetheServer.netty(new ServerConfig("127.0.0.1:0", dir,
        new StoreConfig(retention, 1 << 20), 64 << 20, false, 5), store -> {}).start();
    admin = EraseRpc.loopback(server.port());
    blocking = ModelStoreGrpc.newBlockingStub(admin);
    ModelStoreGrpc.ModelStoreStub async = ModelStoreGrpc.newStub(admin);
    EraseRpc.put(async, Fixtures.spec(MODEL).withTrainSize(N), Fixtures.mlp(41).onnx());
    EraseRpc.buildFisher(async, MODEL, train);
    pool = Executors.newCachedThreadPool();
  }

  @AfterEach
  void stop() throws Exception {
    if (server == null) {
      return;
    }
    pool.shutdownNow();
    for (ManagedChannel c : channels) {
      c.shutdownNow();
    }
    admin.shutdownNow();
    server.stop();
  }

  private ModelStoreGrpc.ModelStoreBlockingStub clientStub() {
    ManagedChannel c = EraseRpc.loopback(server.port());
    channels.add(c);
    return ModelStoreGrpc.newBlockingStub(c);
  }

  private record Answer(int request, EraseResponse response) {}

  @Test
  void overlappingConcurrentErasesEraseEachIdOnceInCommitOrder() throws Exception {
    start(100); // above every version made here, so each version's record stays listed
    Random random = new Random(7);
    List<EraseRequest> requests = new ArrayList<>();
    List<int[]> rowsOf = new ArrayList<>();
    List<Integer> poolRows = new ArrayList<>();
    for (int i = 0; i < POOL; i++) {
      poolRows.add(i);
    }
    for (int r = 0; r < CLIENTS; r++) {
      Collections.shuffle(poolRows, random);
      int[] rows = poolRows.subList(0, PER_REQUEST).stream().mapToInt(Integer::intValue).toArray();
      rowsOf.add(rows);
      requests.add(EraseRpc.erase(MODEL, "req-" + r, train, rows));
    }
    // Client c sends request c; clients 0..3 then send request (c+5) % 8 again, racing its owner.
    List<ModelStoreGrpc.ModelStoreBlockingStub> stubs = new ArrayList<>();
    for (int c = 0; c < CLIENTS; c++) {
      stubs.add(clientStub());
    }
    CountDownLatch go = new CountDownLatch(1);
    ConcurrentLinkedQueue<Answer> answers = new ConcurrentLinkedQueue<>();
    List<Future<?>> clients = new ArrayList<>();
    for (int c = 0; c < CLIENTS; c++) {
      int client = c;
      clients.add(pool.submit(() -> {
        go.await();
        List<Integer> mine = client < 4 ? List.of(client, (client + 5) % CLIENTS) : List.of(client);
        for (int r : mine) {
          answers.add(new Answer(r, stubs.get(client)
              .withDeadlineAfter(EraseRpc.TIMEOUT_S, TimeUnit.SECONDS).erase(requests.get(r))));
        }
        return null;
      }));
    }
    go.countDown();
    for (Future<?> f : clients) {
      f.get(2, TimeUnit.MINUTES);
    }
    assertEquals(CLIENTS + 4, answers.size());

    // A repeated request id got the identical first response, however the two raced.
    Map<Integer, EraseResponse> first = new TreeMap<>();
    for (Answer a : answers) {
      EraseResponse previous = first.putIfAbsent(a.request(), a.response());
      if (previous != null) {
        assertEquals(EraseRpc.withoutTimings(previous), EraseRpc.withoutTimings(a.response()),
            "request " + a.request());
      }
    }
    assertEquals(CLIENTS, first.size());

    Set<String> distinct = new TreeSet<>();
    rowsOf.forEach(rows -> {
      for (int row : rows) {
        distinct.add(train.ids().get(row));
      }
    });
    // Each id erased exactly once: one "erase" event per distinct id, nothing else.
    List<Erasure> ledger = EraseRpc.ledger(blocking, MODEL);
    Map<String, Erasure> bySha = new HashMap<>();
    for (Erasure e : ledger) {
      assertEquals("erase", e.getEvent(), e.toString());
      assertTrue(bySha.put(e.getIdHmac(), e) == null, "two events for one id: " + e);
    }
    Set<String> expectedShas = new HashSet<>();
    distinct.forEach(id -> expectedShas.add(EraseRpc.idKey(dir, id)));
    assertEquals(expectedShas, bySha.keySet());
    long sumErased = first.values().stream().mapToLong(EraseResponse::getErased).sum();
    assertEquals(distinct.size(), sumErased);

    // Commit order: each erasing request made its own version, numbered 2, 3, ... without gaps;
    // its ids are in the ledger under that version and its request id; the ids it found already
    // erased were erased by an earlier version.
    List<Long> made = new ArrayList<>();
    for (Map.Entry<Integer, EraseResponse> e : first.entrySet()) {
      EraseResponse resp = e.getValue();
      Set<String> skipped = new HashSet<>(resp.getAlreadyErasedList());
      int[] rows = rowsOf.get(e.getKey());
      assertEquals(PER_REQUEST, resp.getErased() + skipped.size(), resp.toString());
      for (int row : rows) {
        String id = train.ids().get(row);
        Erasure ev = bySha.get(EraseRpc.idKey(dir, id));
        if (skipped.contains(id)) {
          assertTrue(ev.getVersion() < resp.getVersion() || resp.getErased() == 0
              && ev.getVersion() <= resp.getVersion(), id + " skipped by " + resp + " but " + ev);
        } else {
          assertEquals(resp.getVersion(), ev.getVersion(), id);
          assertEquals("req-" + e.getKey(), ev.getRequestId(), id);
        }
      }
      if (resp.getErased() > 0) {
        made.add(resp.getVersion());
      }
    }
    Collections.sort(made);
    List<Long> expectedVersions = new ArrayList<>();
    for (int i = 0; i < made.size(); i++) {
      expectedVersions.add(2L + i);
    }
    assertEquals(expectedVersions, made, "distinct, consecutive versions for erasing requests");

    // Versions: train_size falls by each version's erased count, in version (= commit) order.
    ModelInfo info = EraseRpc.info(blocking, MODEL);
    assertEquals(1L + made.size(), info.getActiveVersion());
    assertEquals(N - distinct.size(), info.getTrainSize());
    long remaining = N;
    for (VersionInfo v : info.getVersionsList()) {
      if (v.getVersion() > 1) {
        assertEquals("erase", v.getOrigin());
        long ver = v.getVersion();
        remaining -= first.values().stream().filter(r -> r.getVersion() == ver && r.getErased() > 0)
            .mapToLong(EraseResponse::getErased).sum();
      }
      assertEquals(remaining, v.getTrainSize(), "train_size of version " + v.getVersion());
    }
    assertTrue(info.getFisherReady());

    // A repeat afterwards returns the first response and changes nothing.
    ModelStoreGrpc.ModelStoreBlockingStub again = clientStub();
    for (Map.Entry<Integer, EraseResponse> e : first.entrySet()) {
      EraseResponse replay = again.withDeadlineAfter(EraseRpc.TIMEOUT_S, TimeUnit.SECONDS)
          .erase(requests.get(e.getKey()));
      assertEquals(EraseRpc.withoutTimings(e.getValue()), EraseRpc.withoutTimings(replay));
    }
    assertEquals(info, EraseRpc.info(blocking, MODEL));
    assertEquals(ledger, EraseRpc.ledger(blocking, MODEL));
  }

  @ParameterizedTest(name = "retention {0}")
  @ValueSource(ints = {1, 100})
  void readersDuringErasesSeeWholeCommittedVersions(int retention) throws Exception {
    start(retention);
    int erases = 50;
    // version -> sha256 of its file, from every state WatchModel announces (in commit order).
    Map<Long, String> committed = new ConcurrentHashMap<>();
    Context.CancellableContext watch = Context.current().withCancellation();
    watch.run(() -> ModelStoreGrpc.newStub(admin).watchModel(
        WatchModelRequest.newBuilder().setName(MODEL).build(), new StreamObserver<>() {
          @Override
          public void onNext(ModelInfo info) {
            info.getVersionsList().forEach(v -> {
              String before = committed.putIfAbsent(v.getVersion(), v.getSha256());
              if (before != null && !before.equals(v.getSha256())) {
                committed.put(v.getVersion(), "changed");
              }
            });
          }

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {}
        }));
    AtomicBoolean erasing = new AtomicBoolean(true);
    CountDownLatch readersStarted = new CountDownLatch(5);
    // version -> sha256 of every file a reader received (a version's file never changes).
    Map<Long, Set<String>> seen = new ConcurrentHashMap<>();
    ConcurrentLinkedQueue<EvaluateResponse> evaluations = new ConcurrentLinkedQueue<>();
    Samples probe = Batches.range(train, 100, 120);
    List<Future<Integer>> readers = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      ModelStoreGrpc.ModelStoreBlockingStub stub = clientStub();
      readers.add(pool.submit(() -> {
        int reads = 0;
        readersStarted.countDown();
        while (erasing.get()) {
          // Small chunks: each download spans many messages, so a swap mid-stream would show.
          EraseRpc.Download d = EraseRpc.checkedDownload(stub, MODEL, 0, 64);
          seen.computeIfAbsent(d.header().getVersion(), v -> ConcurrentHashMap.newKeySet())
              .add(d.sha256());
          reads++;
        }
        return reads;
      }));
    }
    ModelStoreGrpc.ModelStoreBlockingStub evaluator = clientStub();
    readers.add(pool.submit(() -> {
      int calls = 0;
      readersStarted.countDown();
      while (erasing.get()) {
        evaluations.add(evaluator.withDeadlineAfter(EraseRpc.TIMEOUT_S, TimeUnit.SECONDS)
            .evaluate(EvaluateRequest.newBuilder().setName(MODEL)
                .setSamples(SampleMessages.batch(probe)).build()));
        calls++;
      }
      return calls;
    }));

    ModelStoreGrpc.ModelStoreBlockingStub writer = clientStub();
    // Losses of the probe at each version, evaluated by the writer right after it committed.
    Map<Long, EvaluateResponse> reference = new HashMap<>();
    reference.put(1L, writer.evaluate(EvaluateRequest.newBuilder().setName(MODEL).setVersion(1)
        .setSamples(SampleMessages.batch(probe)).build()));
    assertTrue(readersStarted.await(EraseRpc.TIMEOUT_S, TimeUnit.SECONDS));
    try {
      for (int i = 0; i < erases; i++) {
        EraseResponse r = writer.withDeadlineAfter(EraseRpc.TIMEOUT_S, TimeUnit.SECONDS)
            .erase(EraseRpc.erase(MODEL, "w-" + i, train, i));
        assertEquals(2L + i, r.getVersion());
        assertEquals(1, r.getErased());
        try {
          reference.put(r.getVersion(), writer.evaluate(EvaluateRequest.newBuilder().setName(MODEL)
              .setVersion(r.getVersion()).setSamples(SampleMessages.batch(probe)).build()));
        } catch (StatusRuntimeException e) {
          // With retention 1 the next erase may not have dropped it yet, but nothing else does.
          throw new AssertionError("version " + r.getVersion() + " just committed", e);
        }
      }
    } finally {
      erasing.set(false);
    }
    for (Future<Integer> f : readers) {
      assertTrue(f.get(EraseRpc.TIMEOUT_S, TimeUnit.SECONDS) > 0, "every reader ran");
    }
    watch.cancel(null);

    ModelInfo info = EraseRpc.info(blocking, MODEL);
    assertEquals(1L + erases, info.getActiveVersion());
    // version 1 (the Fisher's build version) is kept beyond the retention while its Fisher is used
    assertEquals(Math.min(retention, 1 + erases) + (retention < 1 + erases ? 1 : 0),
        info.getVersionsCount());
    assertEquals(1 + erases, committed.size(), "WatchModel announced every version");
    info.getVersionsList().forEach(v -> assertEquals(committed.get(v.getVersion()), v.getSha256()));
    seen.forEach((version, shas) -> {
      assertNotNull(committed.get(version), "readers saw version " + version);
      assertEquals(Set.of(committed.get(version)), shas, "files served as version " + version);
    });
    assertTrue(seen.size() > 1, "the readers overlapped the erases: saw versions " + seen.keySet());

    // Every evaluation during the erases is that of one committed version.
    Set<Long> evaluatedVersions = new TreeSet<>();
    for (EvaluateResponse e : evaluations) {
      EvaluateResponse ref = reference.get(e.getVersion());
      assertNotNull(ref, "evaluated version " + e.getVersion());
      assertEquals(ref.getLossesList(), e.getLossesList(), "losses of version " + e.getVersion());
      evaluatedVersions.add(e.getVersion());
    }
    assertTrue(evaluatedVersions.size() > 1, "evaluations overlapped the erases: " + evaluatedVersions);
  }
}
