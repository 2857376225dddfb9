package dev.lethe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import dev.lethe.grpc.LetheClient;
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
        assertTrue(client.listModels().contains("\"digits\""));
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
}
