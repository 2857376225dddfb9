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
import java.util.Map;
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

  /** Runs {@code serve} with {@code args} and {@code env}; returns exit code and output. */
  private Object[] runToExit(Path data, Map<String, String> env, String... args) throws Exception {
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Path argfile = dir.resolve("classpath.args");
    Files.writeString(argfile, "-cp \"" + System.getProperty("java.class.path") + "\"\n");
    List<String> command = new java.util.ArrayList<>(List.of(javaBin, "@" + argfile,
        Main.class.getName(), "serve", "--data-dir", data.toString(), "--no-demo"));
    command.addAll(List.of(args));
    Path log = dir.resolve("refused.log");
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(log.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    pb.environment().keySet().removeIf(k -> k.startsWith("LETHE_"));
    pb.environment().putAll(env);
    Process p = pb.start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "serve did not exit: " + Files.readString(log));
    return new Object[] {p.exitValue(), Files.readString(log)};
  }

  /** Issue #14 finding 4 with the real entrypoint: settings that used to fail open do not start. */
  @Test
  void refusesToStartWhereAuthWouldFailOpen() throws Exception {
    Path tokens = dir.resolve("tokens");
    Path data = dir.resolve("never");
    record Case(String why, Map<String, String> env, String[] args, String expected) {}
    Files.writeString(dir.resolve("template"), "write abc\nread \n");
    Files.writeString(dir.resolve("comments"), "# to be filled in\n");
    List<Case> cases = List.of(
        new Case("a kind without its token", Map.of(),
            new String[] {"--listen", "127.0.0.1:0", "--token-file", dir.resolve("template").toString()},
            dir.resolve("template") + ":2: 'read' has no token"),
        new Case("a file of only comments", Map.of(),
            new String[] {"--listen", "127.0.0.1:0", "--token-file", dir.resolve("comments").toString()},
            "no token in the file"),
        new Case("LETHE_TOKEN set but empty", Map.of("LETHE_TOKEN", ""),
            new String[] {"--listen", "127.0.0.1:0"}, "LETHE_TOKEN is set but is not one token"),
        new Case("beyond loopback without tokens", Map.of(),
            new String[] {"--listen", "0.0.0.0:0"}, "pass --insecure"),
        new Case("beyond loopback with tokens over plaintext", Map.of("LETHE_TOKEN", "t0ken-for-test"),
            new String[] {"--listen", "0.0.0.0:0"}, "tokens over plaintext"));
    for (Case c : cases) {
      Object[] r = runToExit(data, c.env(), c.args());
      String output = (String) r[1];
      assertEquals(2, r[0], c.why() + ": " + output); // a local error: one line, exit 2
      assertTrue(output.contains(c.expected()), c.why() + ": " + output);
      assertTrue(Files.notExists(data), c.why() + ": the store was created");
    }
    // The same exposure with --insecure starts (and is stopped at once by SIGTERM).
    Files.writeString(tokens, "write t0ken-for-test\n");
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Path log = dir.resolve("insecure.log");
    ProcessBuilder pb = new ProcessBuilder(javaBin, "@" + dir.resolve("classpath.args"),
        Main.class.getName(), "serve", "--listen", "0.0.0.0:0", "--data-dir", data.toString(),
        "--no-demo", "--token-file", tokens.toString(), "--insecure")
        .redirectErrorStream(true).redirectOutput(log.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    pb.environment().keySet().removeIf(k -> k.startsWith("LETHE_"));
    Process p = pb.start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!PORT.matcher(Files.readString(log)).find()) {
        assertTrue(p.isAlive() && System.nanoTime() < deadline, "not serving: " + Files.readString(log));
        Thread.sleep(50);
      }
      assertTrue(Files.readString(log).contains("tokens over plaintext (they can be read off the network) (--insecure)"),
          Files.readString(log));
    } finally {
      p.destroy();
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    }
  }
}
