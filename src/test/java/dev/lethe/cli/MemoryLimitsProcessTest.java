package dev.lethe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.lethe.client.LetheClient;
import dev.lethe.client.RemoteException;
import dev.lethe.core.Batches;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;
import dev.lethe.data.BatchFormat;
import dev.lethe.data.DataFiles;
import dev.lethe.data.Dataset;
import dev.lethe.erase.EraseCommand;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.InversionMethod;
import dev.lethe.onnx.OnnxBuilder;
import dev.lethe.testing.ChildJvm;
import dev.lethe.train.Mlp;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sidecar in a child JVM under a small heap, as in a pod with a memory limit (issue 13's
 * acceptance): a Fisher larger than the heap is built and applied, many models share the
 * gradient buffers, and oversized inputs are refused with the server still serving. The stalled
 * watchers are in {@link WatchBackpressureProcessTest}.
 */
class MemoryLimitsProcessTest {
  private static final Pattern PORT = Pattern.compile("\\(port (\\d+)\\)");
  static final Path FASHION = Path.of("..", "shared", "data", "fashion-mnist");
  @TempDir Path dir;

  /** A running {@code lethe serve}; closing it sends SIGTERM and waits. */
  record Server(Process process, int port, Path log) implements AutoCloseable {
    String target() {
      return "127.0.0.1:" + port;
    }

    String output() throws java.io.IOException {
      return Files.readString(log);
    }

    @Override
    public void close() throws Exception {
      process.destroy();
      assertTrue(process.waitFor(60, TimeUnit.SECONDS), "server did not stop");
    }
  }

  static Server serve(Path dir, String name, List<String> jvm, String... args) throws Exception {
    Path log = dir.resolve(name + ".log");
    List<String> all = new ArrayList<>(List.of("serve", "--listen", "127.0.0.1:0"));
    all.addAll(List.of(args));
    if (!all.contains("--demo")) {
      all.add("--no-demo");
    }
    Process p = ChildJvm.lethe(dir, log, jvm, all.toArray(String[]::new)).start();
    Matcher port = PORT.matcher("");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (!port.reset(Files.exists(log) ? Files.readString(log) : "").find()) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        p.destroyForcibly();
        throw new AssertionError("not serving: " + (Files.exists(log) ? Files.readString(log) : ""));
      }
      Thread.sleep(50);
    }
    return new Server(p, Integer.parseInt(port.group(1)), log);
  }

  private static void assertNoCrash(Server s) throws Exception {
    String out = s.output();
    assertFalse(out.contains("OutOfMemoryError") && !out.contains("RESOURCE_EXHAUSTED"), out);
    assertFalse(out.contains("incident"), "a request failed INTERNAL: " + out);
    assertTrue(out.contains("memory budget: heap"), "the budget is logged: " + out);
  }

  @Test
  void fisherOfA203kParameterMlpAt256MiBOfHeapThenEraseRestartErase() throws Exception {
    Path images = FASHION.resolve("train-images-idx3-ubyte.gz");
    assumeTrue(Files.isRegularFile(images), "skipped: Fashion-MNIST not found under "
        + FASHION.toAbsolutePath() + " (this test reads real data from ../shared/data)");
    Dataset fashion = DataFiles.load(images);
    BatchFormat format = new BatchFormat(Mlp.INPUT, new long[0], 1 / 255f,
        BatchFormat.Labels.CLASS_INDICES, 10);
    Samples train = fashion.batch(0, 1000, format);
    Mlp mlp = Mlp.initial(784, 256, 10, new Random(13));
    assertEquals(203_530, mlp.parameterCount());
    // Blocks of at most 1024 (whole rows): F⁻¹ is ~0.8 GB as float32 (half packed), beyond the heap.
    ModelConfig spec = new ModelConfig("mlp", LossFunction.SOFTMAX_CROSS_ENTROPY, Mlp.LOGITS,
        Mlp.PARAMETERS, 1000, 0, 0.1, 0, 1024, 0);
    Path data = dir.resolve("data");
    List<String> jvm = List.of("-Xmx256m", "-XX:+UseSerialGC");
    try (Server s = serve(dir, "first", jvm, "--data-dir", data.toString(),
        "--max-update-ratio", "1000");
        LetheClient client = new LetheClient(s.target())) {
      client.putModel(spec, new ByteArrayInputStream(mlp.onnx("mlp")));
      FisherProgress done = client.buildFisher(new FisherRequest("mlp", CurvatureKind.EMPIRICAL,
          InversionMethod.GRAM, 1024, 0, 0, 0, 0, 1000), batches(train, 100), p -> {});
      System.out.printf("BuildFisher at -Xmx256m: %d blocks, %d passes, %.1f s, %d bytes stored%n",
          done.summary().blocks(), done.summary().passes(), done.summary().buildSeconds(),
          done.summary().bytes());
      assertTrue(done.summary().bytes() > 256L << 20, "F⁻¹ is larger than the heap: "
          + done.summary().bytes());
      assertTrue(done.summary().passes() > 1, "the accumulators did not fit one pass: "
          + done.summary().passes());
      long t0 = System.nanoTime();
      assertEquals(5, client.erase(new EraseCommand("mlp", "first",
          Batches.range(train, 0, 5), false, 0, false)).erased());
      System.out.printf("erase: %.1f s%n", (System.nanoTime() - t0) / 1e9);
      assertNoCrash(s);
    }
    try (Server s = serve(dir, "second", jvm, "--data-dir", data.toString(),
        "--max-update-ratio", "1000");
        LetheClient client = new LetheClient(s.target())) {
      assertEquals(5, client.erase(new EraseCommand("mlp", "second",
          Batches.range(train, 5, 10), false, 0, false)).erased());
      assertEquals(990, client.describe("mlp").trainSize());
      assertNoCrash(s);
    }
  }

  @Test
  void twelveModelsServeGradientsErasesAndAFisherBuildAt512MiB() throws Exception {
    Random random = new Random(12);
    Samples batch = syntheticBatch(random, 200, 64, 10);
    try (Server s = serve(dir, "twelve", List.of("-Xmx512m", "-XX:+UseSerialGC"),
        "--data-dir", dir.resolve("data").toString(), "--max-update-ratio", "1000");
        LetheClient client = new LetheClient(s.target())) {
      for (int m = 0; m < 12; m++) {
        Mlp mlp = Mlp.initial(64, 64, 10, new Random(m));
        client.putModel(new ModelConfig("m" + m, LossFunction.SOFTMAX_CROSS_ENTROPY, Mlp.LOGITS,
            Mlp.PARAMETERS, 200, 0, 0.1, 0, 0, 0), new ByteArrayInputStream(mlp.onnx("m" + m)));
      }
      for (int round = 0; round < 2; round++) {
        for (int m = 0; m < 12; m++) {
          var g = client.gradients("m" + m, 0, batch, true);
          assertEquals(200L * 4810, g.gradients().length);
        }
      }
      client.buildFisher(new FisherRequest("m0", CurvatureKind.TRUE, InversionMethod.GRAM, 0, 0,
          0, 0, 0, 200), batches(batch, 50), p -> {});
      for (int m = 1; m < 12; m++) {
        client.buildFisher(new FisherRequest("m" + m, CurvatureKind.EMPIRICAL,
            InversionMethod.GRAM, 0, 0, 0, 0, 0, 200), batches(batch, 100), p -> {});
      }
      for (int m = 0; m < 12; m++) {
        assertEquals(3, client.erase(new EraseCommand("m" + m, "e" + m,
            Batches.range(batch, 0, 3), false, 0, false)).erased());
        assertEquals(200L * 4810, client.gradients("m" + m, 0, batch, true).gradients().length);
      }
      assertNoCrash(s);
    }
  }

  @Test
  void oversizedDeclarationsUploadsAndRequestsAreRefusedAndTheServerKeepsServing() throws Exception {
    Path data = dir.resolve("data");
    // --fisher-memory-bytes set beyond the heap, as in the issue: the build's allocation fails.
    try (Server s = serve(dir, "refusals", List.of("-Xmx256m", "-XX:+UseSerialGC"),
        "--data-dir", data.toString(), "--fisher-memory-bytes", "4000000000");
        LetheClient client = new LetheClient(s.target())) {
      // A few hundred bytes declaring [N, 5e8] floats: 2 GB per sample, refused before the probe.
      byte[] wide = new OnnxBuilder("wide").opset(17)
          .floatInput("x", -1, 500_000_000L)
          .initializer("w", new float[] {1f}, 1)
          .node("Mul", new String[] {"x", "w"}, new String[] {"y"})
          .floatOutput("y", -1, 500_000_000L)
          .toBytes();
      assertTrue(wide.length < 1000, wide.length + " bytes");
      RemoteException declared = assertThrows(RemoteException.class, () -> client.putModel(
          new ModelConfig("wide", LossFunction.MEAN_SQUARED_ERROR, "", List.of(), 10, 0, 0, 0, 0, 0),
          new ByteArrayInputStream(wide)));
      assertEquals("RESOURCE_EXHAUSTED", declared.code(), declared.getMessage());
      assertTrue(declared.getMessage().contains("graph input 'x' declares [N, 500000000]"),
          declared.getMessage());
      // An upload whose structure is larger than the heap can check (3x within the upload
      // share): 5M int64 values (45 MB as varints) stay in the structure, large weights would not.
      long[] table = new long[5_000_000];
      java.util.Arrays.fill(table, 1L << 60);
      byte[] big = new OnnxBuilder("big").opset(17).floatInput("x", -1, 2)
          .int64Initializer("table", table, table.length)
          .node("Identity", "y", "x").floatOutput("y", -1, 2).toBytes();
      assertTrue(big.length > 40 << 20, big.length + " bytes");
      RemoteException upload = assertThrows(RemoteException.class, () -> client.putModel(
          new ModelConfig("big", LossFunction.MEAN_SQUARED_ERROR, "", List.of(), 10, 0, 0, 0, 0, 0),
          new ByteArrayInputStream(big)));
      assertEquals("RESOURCE_EXHAUSTED", upload.code(), upload.getMessage());
      assertTrue(upload.getMessage().contains("structure") && upload.getMessage().contains("-Xmx"),
          upload.getMessage());
      // A request larger than the message limit derived from the budget.
      Mlp mlp = Mlp.initial(784, 32, 10, new Random(1));
      client.putModel(Mlp.spec("mlp", 10, 0), new ByteArrayInputStream(mlp.onnx("mlp")));
      Samples huge = syntheticBatch(new Random(2), 20_000, 784, 10);
      RemoteException request = assertThrows(RemoteException.class,
          () -> client.evaluate("mlp", 0, huge));
      assertEquals("RESOURCE_EXHAUSTED", request.code(), request.getMessage());
      // Full gradients beyond the response limit.
      Samples many = syntheticBatch(new Random(3), 2000, 784, 10);
      RemoteException gradients = assertThrows(RemoteException.class,
          () -> client.gradients("mlp", 0, many, true));
      assertEquals("RESOURCE_EXHAUSTED", gradients.code(), gradients.getMessage());
      assertTrue(gradients.getMessage().startsWith("samples:"), gradients.getMessage());
      // Accumulators of 50 blocks of 1024 (420 MB) do not fit a 256 MiB heap: out of memory is
      // an answer naming the flag, not UNKNOWN.
      Mlp wider = Mlp.initial(784, 64, 10, new Random(4));
      client.putModel(Mlp.spec("wider", 100, 0), new ByteArrayInputStream(wider.onnx("wider")));
      RemoteException oom = assertThrows(RemoteException.class, () -> client.buildFisher(
          new FisherRequest("wider", CurvatureKind.EMPIRICAL, InversionMethod.GRAM, 1024, 0, 0, 0,
              0, 100), batches(syntheticBatch(new Random(5), 100, 784, 10), 100), p -> {}));
      assertEquals("RESOURCE_EXHAUSTED", oom.code(), oom.getMessage());
      assertTrue(oom.getMessage().contains("--fisher-memory-bytes"), oom.getMessage());
      assertFalse(client.describe("wider").fisherReady());
      // Still serving, nothing registered by the refusals, no staged upload left behind.
      assertEquals(List.of("mlp", "wider"), client.listModels().stream().map(m -> m.name()).toList());
      assertEquals(2000, client.gradients("mlp", 0, many, false).size());
      try (var tmp = Files.list(data.resolve("tmp"))) {
        assertEquals(List.of(), tmp.filter(f -> f.getFileName().toString().startsWith("lethe-upload")).toList());
      }
      assertNoCrash(s);
    }
  }

  static java.util.Iterator<Samples> batches(Samples all, int size) {
    List<Samples> parts = new ArrayList<>();
    for (int from = 0; from < all.size(); from += size) {
      parts.add(Batches.range(all, from, Math.min(all.size(), from + size)));
    }
    return parts.iterator();
  }

  static Samples syntheticBatch(Random random, int n, int features, int classes) {
    return dev.lethe.bench.MemoryBench.synthetic(random, n, features, classes);
  }

}
