package dev.lethe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.bench.FrozenMlp;
import dev.lethe.bench.MemoryBench;
import dev.lethe.client.LetheClient;
import dev.lethe.core.Samples;
import dev.lethe.erase.EraseCommand;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.InversionMethod;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model file three times larger than the sidecar's heap (issue 13: the upload limit is
 * independent of the heap): at {@code -Xmx128m}, a 384 MiB ONNX MLP (96 frozen 1024 × 1024
 * layers, an erasable 1024 × 10 head) registers from its staged file, GetModel returns the
 * upload bit for bit, a Fisher (blocks of 64) is built and an erase applied; after a restart
 * (sessions from the stored model, written to disk for ONNX Runtime) it still serves, erases
 * again, and the first version's bytes are still the upload's. Disk: about 1.5 GB at the peak,
 * in the test's temporary directory.
 */
class LargeModelProcessTest {
  private static final Pattern UPLOAD_SHARE = Pattern.compile("upload checks ([0-9.]+) MiB");
  @TempDir Path dir;

  @Test
  void aModelThreeTimesTheHeapRegistersServesErasesAndSurvivesARestart() throws Exception {
    Path model = dir.resolve("frozen.onnx");
    int hidden = 1024;
    long size = FrozenMlp.write(model, 64, hidden, FrozenMlp.layersFor(384L << 20, hidden), 10, 11);
    String sha = sha256(model);
    assertTrue(size > 3 * (128L << 20), size + " bytes");
    Samples train = MemoryBench.synthetic(new Random(3), 100, 64, 10);
    Path data = dir.resolve("data");
    List<String> jvm = List.of("-Xmx128m", "-XX:+UseSerialGC");
    try (MemoryLimitsProcessTest.Server s = MemoryLimitsProcessTest.serve(dir, "first", jvm,
        "--data-dir", data.toString(), "--max-update-ratio", "1000");
        LetheClient client = new LetheClient(s.target())) {
      Matcher share = UPLOAD_SHARE.matcher(s.output());
      assertTrue(share.find(), s.output());
      double oldLimit = Double.parseDouble(share.group(1)) / 3 * 1048576;
      assertTrue(size > 20 * oldLimit, "beyond the old limit (upload share / 3): " + oldLimit);
      long t0 = System.nanoTime();
      try (InputStream in = Files.newInputStream(model)) {
        client.putModel(FrozenMlp.spec("big", 100, 64), in);
      }
      System.out.printf("PutModel of %d bytes at -Xmx128m: %.1f s (old limit %.0f bytes)%n", size,
          (System.nanoTime() - t0) / 1e9, oldLimit);
      assertEquals(sha, download(client, "big", 0, dir.resolve("v1.onnx")));
      FisherProgress done = client.buildFisher(new FisherRequest("big", CurvatureKind.EMPIRICAL,
          InversionMethod.GRAM, 64, 0, 0, 0, 0, 100),
          MemoryLimitsProcessTest.batches(train, 50), p -> {});
      assertTrue(done.summary().blocks() > 300, "blocks: " + done.summary().blocks());
      assertEquals(3, client.erase(new EraseCommand("big", "first",
          dev.lethe.core.Batches.range(train, 0, 3), false, 0, false)).erased());
      assertEquals(2, client.describe("big").activeVersion());
      String erased = download(client, "big", 0, dir.resolve("v2.onnx"));
      assertNotEquals(sha, erased);
      assertEquals(size, Files.size(dir.resolve("v2.onnx")));
      Files.delete(dir.resolve("v2.onnx"));
      assertClean(s, data);
    }
    try (MemoryLimitsProcessTest.Server s = MemoryLimitsProcessTest.serve(dir, "second", jvm,
        "--data-dir", data.toString(), "--max-update-ratio", "1000");
        LetheClient client = new LetheClient(s.target())) {
      assertEquals(2, client.describe("big").activeVersion());
      assertEquals(97, client.describe("big").trainSize());
      // The forward session after a restart, from the stored model written out for ONNX Runtime.
      var evaluation = client.evaluate("big", 0, dev.lethe.core.Batches.range(train, 10, 20));
      assertEquals(10, evaluation.losses().length);
      assertTrue(Double.isFinite(evaluation.meanLoss()), "" + evaluation.meanLoss());
      assertEquals(3, client.erase(new EraseCommand("big", "second",
          dev.lethe.core.Batches.range(train, 3, 6), false, 0, false)).erased());
      assertEquals(94, client.describe("big").trainSize());
      assertEquals(sha, download(client, "big", 1, dir.resolve("v1-again.onnx")));
      assertClean(s, data);
    }
  }

  /** No out-of-memory, no internal error, no file left in {@code <data-dir>/tmp}. */
  private static void assertClean(MemoryLimitsProcessTest.Server s, Path data) throws Exception {
    String out = s.output();
    assertFalse(out.contains("OutOfMemoryError"), out);
    assertFalse(out.contains("incident"), "a request failed INTERNAL: " + out);
    try (var tmp = Files.list(data.resolve("tmp"))) {
      assertEquals(List.of(), tmp.filter(f -> f.getFileName().toString().startsWith("lethe-upload")).toList());
    }
  }

  private static String download(LetheClient client, String name, long version, Path to)
      throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    try (OutputStream out = new DigestOutputStream(Files.newOutputStream(to), md)) {
      client.getModel(name, version, out);
    }
    String hex = HexFormat.of().formatHex(md.digest());
    Files.delete(to);
    return hex;
  }

  private static String sha256(Path file) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    try (InputStream in = Files.newInputStream(file)) {
      byte[] b = new byte[1 << 20];
      for (int n; (n = in.read(b)) > 0; ) {
        md.update(b, 0, n);
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }
}
