package dev.lethe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import dev.lethe.client.LetheClient;
import dev.lethe.storage.LetheDb;
import dev.lethe.store.ModelStore;
import dev.lethe.store.StoreConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real entrypoint in its own JVM: {@code serve} on a fresh data dir registers the demo, and
 * SIGTERM stops it cleanly with the store intact.
 */
class ServeProcessTest {
  private static final Pattern PORT = Pattern.compile("\\(port (\\d+)\\)");
  @TempDir Path dir;

  @Test
  void sigtermStopsCleanlyAndKeepsTheStore() throws Exception {
    Path data = dir.resolve("data");
    Path log = dir.resolve("serve.log");
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    // The class path goes in an @argfile: ONNX Runtime 1.29 crashes (SIGSEGV) while creating its
    // environment when the process command line is longer than about 4 KiB.
    Path argfile = dir.resolve("classpath.args");
    Files.writeString(argfile, "-cp \"" + System.getProperty("java.class.path") + "\"\n");
    ProcessBuilder pb = new ProcessBuilder(javaBin, "@" + argfile, Main.class.getName(), "serve", "--listen", "127.0.0.1:0", "--data-dir", data.toString())
        .redirectErrorStream(true)
        .redirectOutput(log.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    pb.environment().remove("LETHE_LISTEN");
    Process p = pb.start();
    try {
      Matcher port = PORT.matcher("");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!port.reset(Files.readString(log)).find()) {
        assertTrue(p.isAlive() && System.nanoTime() < deadline, "not serving: " + Files.readString(log));
        Thread.sleep(50);
      }
      try (LetheClient client = new LetheClient("127.0.0.1:" + port.group(1))) {
        assertEquals(List.of("digits"), client.listModels().stream().map(m -> m.name()).toList());
      }
    } finally {
      p.destroy(); // SIGTERM
    }
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "server did not stop within 30 s");
    String output = Files.readString(log);
    assertEquals(143, p.exitValue(), output); // 128 + SIGTERM, after the shutdown hook ran
    assertTrue(output.contains("stopped cleanly, store closed"), output);
    try (LetheDb db = LetheDb.open(data);
        ModelStore store = new ModelStore(db, OrtEnvironment.getEnvironment(), StoreConfig.defaults())) {
      assertEquals(List.of("digits"), store.list().stream().map(m -> m.name()).toList());
    }
  }

  /** Starts {@code serve} on a free port; returns the process and its port. */
  private Object[] start(Path data, Path log) throws Exception {
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Path argfile = dir.resolve("classpath.args");
    Files.writeString(argfile, "-cp \"" + System.getProperty("java.class.path") + "\"\n");
    ProcessBuilder pb = new ProcessBuilder(javaBin, "@" + argfile, Main.class.getName(), "serve",
        "--listen", "127.0.0.1:0", "--data-dir", data.toString())
        .redirectErrorStream(true)
        .redirectOutput(log.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    pb.environment().remove("LETHE_LISTEN");
    Process p = pb.start();
    Matcher port = PORT.matcher("");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!port.reset(Files.readString(log)).find()) {
      assertTrue(p.isAlive() && System.nanoTime() < deadline, "not serving: " + Files.readString(log));
      Thread.sleep(50);
    }
    return new Object[] {p, Integer.parseInt(port.group(1))};
  }

  @Test
  void sigtermDuringErasesLosesNothing() throws Exception {
    Path data = dir.resolve("erasing");
    Path log = dir.resolve("erasing.log");
    Object[] started = start(data, log);
    Process p = (Process) started[0];
    dev.lethe.data.Dataset digits = dev.lethe.demo.DigitsDemo.trainingData();
    dev.lethe.core.Samples all = digits.batch(0, digits.size(),
        dev.lethe.data.BatchFormat.of("pixels").withClassIndices());
    java.util.List<String> acknowledged = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    try (LetheClient client = new LetheClient("127.0.0.1:" + started[1])) {
      client.buildFisher(new dev.lethe.fisher.FisherRequest("digits", dev.lethe.fisher.CurvatureKind.EMPIRICAL,
          dev.lethe.fisher.InversionMethod.GRAM, 0, 0, 0, 0, 0, all.size()), List.of(all).iterator(), x -> {});
      java.util.concurrent.CountDownLatch someErased = new java.util.concurrent.CountDownLatch(3);
      Thread eraser = new Thread(() -> {
        for (int row = 0; row < 200; row++) {
          try {
            client.erase(new dev.lethe.erase.EraseCommand("digits", "r" + row,
                dev.lethe.core.Batches.range(all, row, row + 1), false, 0, false));
            acknowledged.add(all.ids().get(row));
            someErased.countDown();
          } catch (RuntimeException e) {
            return; // the server is going away: stop
          }
        }
      });
      eraser.start();
      assertTrue(someErased.await(60, TimeUnit.SECONDS), "no erase went through");
      p.destroy(); // SIGTERM while erases are in flight
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "server did not stop");
      eraser.join(30_000);
    }
    String output = Files.readString(log);
    assertTrue(output.contains("stopped cleanly, store closed"), output);
    try (LetheDb db = LetheDb.open(data);
        ModelStore store = new ModelStore(db, OrtEnvironment.getEnvironment(), StoreConfig.defaults())) {
      dev.lethe.store.ModelState info = store.info("digits");
      for (String id : acknowledged) {
        assertTrue(store.isErased("digits", id),
            "acknowledged erase of " + id + " lost");
      }
      long inLedger = store.listErasures("digits", 10_000, "").entries().size();
      // Every acknowledged erase is there; at most the one in flight at the signal committed
      // without its answer reaching the client.
      assertTrue(inLedger == acknowledged.size() || inLedger == acknowledged.size() + 1,
          inLedger + " in the ledger, " + acknowledged.size() + " acknowledged");
      assertEquals(all.size() - inLedger, info.trainSize());
      assertTrue(info.fisherReady());
    }
  }
}
