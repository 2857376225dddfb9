package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.BuildFisherRequest;
import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.FisherOptions;
import dev.lethe.api.v1.ModelStoreGrpc;
import dev.lethe.core.Batches;
import dev.lethe.core.Samples;
import dev.lethe.fisher.FisherStore;
import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.records.ModelRecord;
import dev.lethe.storage.records.VersionRecord;
import dev.lethe.testing.ChildJvm;
import dev.lethe.testing.Fixtures;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #14 finding 2 with the real jar: a process killed (SIGKILL) during BuildFisher and during
 * downdating erases leaves, after restart, no Fisher, spill file or weight set that no kept
 * version references; crash debris is swept before serving.
 */
class DebrisCrashTest {
  private static final Pattern PORT = Pattern.compile("\\(port (\\d+)\\)");
  private static final String MODEL = "mlp";
  private static final int N = 400;
  @TempDir Path dir;
  private final Samples train = Fixtures.batch(42, N);

  private Path data() {
    return dir.resolve("data");
  }

  /** {@code serve} with a Fisher memory budget small enough that builds spill their samples. */
  private final class Server implements AutoCloseable {
    final Process process;
    final Path log;
    final ManagedChannel channel;

    Server(String name) throws Exception {
      log = dir.resolve(name + ".log");
      process = ChildJvm.lethe(dir, log, ChildJvm.QUICK, "serve", "--listen", "127.0.0.1:0",
          "--data-dir", data().toString(), "--no-demo", "--retention", "3",
          "--fisher-memory-bytes", "2000").start();
      Matcher port = PORT.matcher("");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!port.reset(Files.readString(log)).find()) {
        assertTrue(process.isAlive() && System.nanoTime() < deadline, "not serving: " + Files.readString(log));
        Thread.sleep(20);
      }
      channel = EraseRpc.loopback(Integer.parseInt(port.group(1)));
    }

    void kill() throws InterruptedException {
      channel.shutdownNow();
      process.destroyForcibly(); // SIGKILL
      assertTrue(process.waitFor(30, TimeUnit.SECONDS));
      assertEquals(137, process.exitValue());
    }

    /** SIGTERM: the graceful stop, which leaves no debris of its own. */
    void stop() throws Exception {
      channel.shutdownNow();
      process.destroy();
      assertTrue(process.waitFor(60, TimeUnit.SECONDS));
      assertTrue(Files.readString(log).contains("stopped cleanly"), Files.readString(log));
    }

    @Override
    public void close() throws InterruptedException {
      channel.shutdownNow();
      if (process.isAlive()) {
        kill();
      }
    }
  }

  private List<Path> spills() throws Exception {
    Path tmp = data().resolve("tmp");
    if (!Files.isDirectory(tmp)) {
      return List.of();
    }
    try (var files = Files.list(tmp)) {
      return files.filter(f -> f.getFileName().toString().endsWith(".spill")).toList();
    }
  }

  /** Fishers and weight sets stored vs referenced by kept versions, with the store closed. */
  private record Inventory(Map<String, Set<String>> storedFishers, Map<String, Set<String>> referencedFishers,
      Set<String> storedWeights, Set<String> keptVersions) {
    void assertNoDebris(String where) {
      assertEquals(referencedFishers, storedFishers, where + ": Fishers stored vs referenced");
      assertEquals(keptVersions, storedWeights, where + ": weight sets stored vs kept versions");
    }
  }

  private Inventory inventory() throws Exception {
    try (LetheDb db = LetheDb.open(data())) {
      Map<String, Set<String>> referenced = new TreeMap<>();
      Set<String> kept = new TreeSet<>();
      db.scan(Family.MODELS, new byte[0], (k, v) -> {
        try {
          ModelRecord r = ModelRecord.parseFrom(v);
          for (VersionRecord x : r.getVersionsList()) {
            kept.add(r.getName() + "@" + x.getVersion());
            if (!x.getFisherId().isEmpty()) {
              referenced.computeIfAbsent(r.getName(), m -> new TreeSet<>()).add(x.getFisherId());
            }
          }
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
          throw new AssertionError(e);
        }
      });
      Set<String> weights = new TreeSet<>();
      db.scan(Family.WEIGHTS, new byte[0], (k, v) -> {
        int zero = 0;
        while (k[zero] != 0) {
          zero++;
        }
        weights.add(new String(k, 0, zero, StandardCharsets.UTF_8) + "@"
            + java.nio.ByteBuffer.wrap(k, zero + 1, 8).getLong());
      });
      return new Inventory(new TreeMap<>(FisherStore.storedIds(db)), referenced, weights, kept);
    }
  }

  @Test
  void killedDuringBuildsAndDowndatesNoOrphanSurvivesARestart() throws Exception {
    try (Server s = new Server("setup")) {
      ModelStoreGrpc.ModelStoreStub async = ModelStoreGrpc.newStub(s.channel);
      EraseRpc.put(async, Fixtures.spec(MODEL).withTrainSize(N), Fixtures.mlp(41).onnx());
      EraseRpc.buildFisher(async, MODEL, train);
      assertEquals(List.of(), spills(), "a finished build deletes its spill");
      // Killed during a BuildFisher: the options and half the samples are in, the spill exists.
      StreamObserver<BuildFisherRequest> up = async.buildFisher(EraseRpc.observer(
          new CompletableFuture<BuildFisherProgress>()));
      up.onNext(BuildFisherRequest.newBuilder().setOptions(FisherOptions.newBuilder().setName(MODEL)
          .setBlockSize(10).setFisherKind(dev.lethe.api.v1.FisherKind.EMPIRICAL)).build());
      up.onNext(BuildFisherRequest.newBuilder()
          .setSamples(SampleMessages.batch(Batches.range(train, 0, N / 2))).build());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (spills().isEmpty()) {
        assertTrue(System.nanoTime() < deadline, "the multi-pass build made no spill file");
        Thread.sleep(20);
      }
      s.kill();
    }
    List<Path> left = spills();
    assertEquals(1, left.size(), "the killed build's spill (raw samples) is left: " + left);
    // What a kill between writing and committing leaves: a headerless Fisher and a weight set
    // no version references (the exact moments are too short to hit reliably by timing).
    try (LetheDb db = LetheDb.open(data())) {
      db.write(b -> {
        b.put(Family.FISHER, Keys.concat(Keys.modelPrefix(MODEL),
            "crashed-build\0b\0\0\0\0".getBytes(StandardCharsets.UTF_8)), new byte[800]);
        b.putBlob(Family.WEIGHTS, Keys.version(MODEL, 999), new byte[108]);
      });
    }
    Inventory dirty = inventory();
    assertTrue(!dirty.storedFishers().equals(dirty.referencedFishers())
        && !dirty.storedWeights().equals(dirty.keptVersions()), "debris in place: " + dirty);
    try (Server s = new Server("swept")) {
      assertTrue(Files.readString(s.log).contains(
          "swept crash debris: 1 unreferenced Fishers, 1 weight sets, 1 spill files"),
          Files.readString(s.log));
      assertEquals(List.of(), spills());
      s.stop();
    }
    inventory().assertNoDebris("after the sweep");

    // Killed during downdating erases, at random moments; after each restart nothing is orphaned.
    Random random = new Random(14);
    int row = 0;
    for (int round = 1; round <= 3; round++) {
      try (Server s = new Server("downdate-" + round)) {
        ModelStoreGrpc.ModelStoreBlockingStub blocking = ModelStoreGrpc.newBlockingStub(s.channel);
        int first = row;
        row += 40;
        CompletableFuture<Integer> loop = CompletableFuture.supplyAsync(() -> {
          int done = 0;
          for (int r = first; r < first + 40; r++) {
            EraseRequest req = EraseRpc.erase(MODEL, "dd-" + r, train, r).toBuilder()
                .setDowndateFisher(true).build();
            try {
              blocking.withDeadlineAfter(30, TimeUnit.SECONDS).erase(req);
              done++;
            } catch (RuntimeException e) {
              break; // the server went away
            }
          }
          return done;
        });
        Thread.sleep(200 + random.nextInt(600));
        s.kill();
        loop.get(60, TimeUnit.SECONDS);
      }
      try (Server s = new Server("restart-" + round)) {
        s.stop();
      }
      Inventory after = inventory();
      after.assertNoDebris("round " + round);
      assertTrue(after.keptVersions().size() <= 3, after.keptVersions().toString());
      assertTrue(after.storedFishers().getOrDefault(MODEL, Set.of()).size() <= 3, after.toString());
      assertEquals(List.of(), spills());
    }
  }
}
