package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.Erasure;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelStoreGrpc;
import dev.lethe.api.v1.VersionInfo;
import dev.lethe.core.Samples;
import dev.lethe.testing.ChildJvm;
import dev.lethe.testing.Fixtures;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash consistency of Erase against the real {@code serve} process: erases run in a loop, the
 * process is SIGKILLed at a seeded random moment, restarted, and the store must hold a whole
 * committed version whose ledger, train_size and version list agree, and the erase that was in
 * flight must be either wholly there or wholly absent.
 *
 * <p>Rounds: system property {@code lethe.crashRounds} (default 20). Each round costs a process
 * start (~2-3 s) plus up to {@code MAX_KILL_DELAY_MS} of erasing.
 */
class EraseCrashTest {
  private static final Pattern PORT = Pattern.compile("\\(port (\\d+)\\)");
  private static final String MODEL = "mlp";
  private static final int N = 4000;
  private static final int PER_ERASE = 2;
  private static final int MAX_KILL_DELAY_MS = 800;
  @TempDir Path dir;
  private final Samples train = Fixtures.batch(42, N);

  /** A running {@code serve} process and a channel to it. */
  private final class Server implements AutoCloseable {
    final Process process;
    final Path log;
    final ManagedChannel channel;
    final ModelStoreGrpc.ModelStoreBlockingStub blocking;

    Server(int round) throws Exception {
      log = dir.resolve("serve-" + round + ".log");
      process = ChildJvm.lethe(dir, log, ChildJvm.QUICK, "serve", "--listen", "127.0.0.1:0",
          "--data-dir", dir.resolve("data").toString(), "--no-demo").start();
      Matcher port = PORT.matcher("");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      // Polls the log for the bound port: the process's only way to say it is serving.
      while (!port.reset(Files.readString(log)).find()) {
        assertTrue(process.isAlive() && System.nanoTime() < deadline,
            "round " + round + ": not serving: " + Files.readString(log));
        Thread.sleep(20);
      }
      channel = EraseRpc.loopback(Integer.parseInt(port.group(1)));
      blocking = ModelStoreGrpc.newBlockingStub(channel);
    }

    void kill() throws InterruptedException {
      process.destroyForcibly(); // SIGKILL
      assertTrue(process.waitFor(30, TimeUnit.SECONDS));
      assertEquals(137, process.exitValue());
    }

    @Override
    public void close() throws InterruptedException {
      channel.shutdownNow();
      if (process.isAlive()) {
        kill();
      }
    }
  }

  /** What the test knows: the erases whose answer it received, and the one left in doubt. */
  private final Map<Long, EraseResponse> received = new HashMap<>();
  private final Map<Long, int[]> rowsOf = new HashMap<>();
  private final Map<Long, String> shaOf = new HashMap<>();
  private long lastVersion = 1;
  private int nextRow;
  private int nextRequest;
  private EraseRequest inDoubt;
  private int[] inDoubtRows;
  private int committedInDoubt;
  private int lostInDoubt;

  @Test
  void killedDuringErasesTheStoreReopensWithAWholeConsistentVersion() throws Exception {
    int rounds = Integer.getInteger("lethe.crashRounds", 20);
    Random random = new Random(2024);
    long start = System.nanoTime();
    Server server = new Server(0);
    try {
      ModelStoreGrpc.ModelStoreStub async = ModelStoreGrpc.newStub(server.channel);
      EraseRpc.put(async, Fixtures.spec(MODEL).withTrainSize(N), Fixtures.mlp(41).onnx());
      EraseRpc.buildFisher(async, MODEL, train);
      shaOf.put(1L, EraseRpc.version(EraseRpc.info(server.blocking, MODEL), 1).getSha256());
      for (int round = 1; round <= rounds; round++) {
        int delayMs = random.nextInt(MAX_KILL_DELAY_MS);
        CompletableFuture<Void> loop = CompletableFuture.runAsync(eraseLoop(server.blocking));
        Thread.sleep(delayMs); // the random moment of the crash
        server.kill();
        loop.get(60, TimeUnit.SECONDS);
        server.close();
        server = new Server(round);
        check(server, round);
      }
    } finally {
      server.close();
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    System.out.printf("EraseCrashTest: %d rounds in %.1f s; %d erases answered, in-doubt erases "
        + "found committed %d, absent %d%n", rounds, seconds, received.size(), committedInDoubt,
        lostInDoubt);
    assertTrue(received.size() > rounds, "erases ran between the kills: " + received.size());
  }

  /** Erases PER_ERASE fresh rows per request, one request at a time, until the process dies. */
  private Runnable eraseLoop(ModelStoreGrpc.ModelStoreBlockingStub blocking) {
    return () -> {
      while (true) {
        int[] rows = new int[PER_ERASE];
        for (int i = 0; i < PER_ERASE; i++) {
          rows[i] = nextRow++;
        }
        EraseRequest request = EraseRpc.erase(MODEL, "c-" + nextRequest++, train, rows);
        inDoubt = request;
        inDoubtRows = rows;
        EraseResponse r;
        try {
          r = blocking.withDeadlineAfter(EraseRpc.TIMEOUT_S, TimeUnit.SECONDS).erase(request);
        } catch (StatusRuntimeException e) {
          return; // killed: this request stays in doubt
        }
        inDoubt = null;
        answered(r, rows);
        try {
          shaOf.put(r.getVersion(), EraseRpc.version(EraseRpc.info(blocking, MODEL), r.getVersion())
              .getSha256());
        } catch (StatusRuntimeException e) {
          return; // killed after the answer: the version is known, its sha256 not
        }
      }
    };
  }

  private void answered(EraseResponse r, int[] rows) {
    assertEquals(PER_ERASE, r.getErased(), r.toString());
    assertEquals(lastVersion + 1, r.getVersion(), "sequential erases make consecutive versions");
    lastVersion = r.getVersion();
    received.put(r.getVersion(), r);
    rowsOf.put(r.getVersion(), rows);
  }

  private void check(Server server, int round) throws Exception {
    String where = "round " + round + ": ";
    ModelInfo info = EraseRpc.info(server.blocking, MODEL);
    long active = info.getActiveVersion();
    boolean doubtCommitted = inDoubt != null && active == lastVersion + 1;
    assertTrue(active == lastVersion || doubtCommitted,
        where + "active version " + active + " after answers up to " + lastVersion
            + (inDoubt == null ? " with none in flight" : " and one in flight"));
    assertTrue(info.getFisherReady(), where + "the Fisher is still attached");

    // Versions: increasing, the active one kept, each whole (served file = its recorded sha256,
    // and the same sha256 as before the crash when the test saw it).
    long previous = 0;
    long previousTrainSize = Long.MAX_VALUE;
    for (VersionInfo v : info.getVersionsList()) {
      assertTrue(v.getVersion() > previous, where + info);
      assertTrue(v.getTrainSize() < previousTrainSize, where + "train_size falls with each erase");
      previous = v.getVersion();
      previousTrainSize = v.getTrainSize();
      EraseRpc.Download d = EraseRpc.checkedDownload(server.blocking, MODEL, v.getVersion(), 0);
      assertEquals(v.getSha256(), d.sha256(), where + "version " + v.getVersion());
      String known = shaOf.putIfAbsent(v.getVersion(), v.getSha256());
      if (known != null) {
        assertEquals(known, v.getSha256(), where + "version " + v.getVersion() + " changed");
      }
      assertEquals(N - PER_ERASE * (v.getVersion() - 1), v.getTrainSize(),
          where + "train_size of version " + v.getVersion());
    }
    EraseRpc.Download activeFile = EraseRpc.checkedDownload(server.blocking, MODEL, 0, 0);
    assertEquals(active, activeFile.header().getVersion());
    assertEquals(EraseRpc.version(info, active).getSha256(), activeFile.sha256());

    // Ledger: exactly the ids of the answered erases, plus the in-doubt one iff it committed.
    Map<String, Erasure> ledger = new HashMap<>();
    for (Erasure e : EraseRpc.ledger(server.blocking, MODEL)) {
      assertEquals("erase", e.getEvent(), where + e);
      assertFalse(ledger.containsKey(e.getIdHmac()), where + "one event per id: " + e);
      ledger.put(e.getIdHmac(), e);
    }
    Map<String, Long> expected = new HashMap<>();
    rowsOf.forEach((version, rows) -> {
      for (int row : rows) {
        expected.put(EraseRpc.idKey(dir.resolve("data"), train.ids().get(row)), version);
      }
    });
    if (doubtCommitted) {
      for (int row : inDoubtRows) {
        expected.put(EraseRpc.idKey(dir.resolve("data"), train.ids().get(row)), active);
      }
    }
    Map<String, Long> actual = new HashMap<>();
    ledger.forEach((sha, e) -> actual.put(sha, e.getVersion()));
    assertEquals(expected, actual, where + "ledger");
    assertEquals(N - info.getTrainSize(), ledger.size(), where + "erased ids = train_size reduction");

    // The in-doubt request, sent again with its request id: the stored answer if it committed,
    // else it erases now. Either way exactly one version holds its ids.
    if (inDoubt != null) {
      EraseResponse r = server.blocking.withDeadlineAfter(EraseRpc.TIMEOUT_S, TimeUnit.SECONDS)
          .erase(inDoubt);
      if (doubtCommitted) {
        committedInDoubt++;
        assertEquals(active, r.getVersion(), where + "replay of the committed in-doubt erase");
        assertEquals(active, EraseRpc.info(server.blocking, MODEL).getActiveVersion());
      } else {
        lostInDoubt++;
        assertEquals(active + 1, r.getVersion(), where + "the lost in-doubt erase runs now");
      }
      answered(r, inDoubtRows);
      inDoubt = null;
    }
    String log = Files.readString(server.log);
    assertFalse(log.contains("SEVERE"), where + log);
  }
}
