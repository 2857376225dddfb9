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
 * independent of the heap): at {@code -Xmx96m}, a 300 MiB ONNX MLP (75 frozen 1024 × 1024
 * layers, an erasable 1024 × 10 head) registers from its staged file, GetModel returns the
 * upload bit for bit, a Fisher (blocks of 64) is built and an erase applied; after a restart
 * (sessions from the stored model, written to disk for ONNX Runtime) it still serves, erases
 * again, and the first version's bytes are still the upload's. Disk: about 1.2 GB at the peak,
 * in the test's temporary directory.
 */
class LargeModelProcessTest {
  private static final Pattern UPLOAD_SHARE = Pattern.compile("upload checks ([0-9.]+) MiB");
  @TempDir Path dir;

  @Test
  void aModelThreeTimesTheHeapRegistersServesErasesAndSurvivesARestart() throws Exception {
    Path model = dir.resolve("frozen.onnx");
    int hidden = 1024;
    long size = FrozenMlp.write(model, 64, hidden, FrozenMlp.layersFor(300L << 20, hidden), 10, 11);
    String sha = sha256(model) + " " + Files.size(model);
    assertTrue(size > 3 * (96L << 20), size + " bytes");
    Samples train = MemoryBench.synthetic(new Random(3), 40, 64, 10);
    Path data = dir.resolve("data");
    List<String> jvm = List.of("-Xmx96m", "-XX:+UseSerialGC");
    try (MemoryLimitsProcessTest.Server s = MemoryLimitsProcessTest.serve(dir, "first", jvm,
        "--data-dir", data.toString(), "--max-update-ratio", "1000");
        LetheClient client = new LetheClient(s.target())) {
      Matcher share = UPLOAD_SHARE.matcher(s.output());
      assertTrue(share.find(), s.output());
      double oldLimit = Double.parseDouble(share.group(1)) / 3 * 1048576;
      assertTrue(size > 20 * oldLimit, "beyond the old limit (upload share / 3): " + oldLimit);
      long t0 = System.nanoTime();
      try (InputStream in = Files.newInputStream(model)) {
        client.putModel(FrozenMlp.spec("big", 40, 64), in);
      }
      System.out.printf("PutModel of %d bytes at -Xmx96m: %.1f s (old limit %.0f bytes)%n", size,
          (System.nanoTime() - t0) / 1e9, oldLimit);
      t0 = System.nanoTime();
      assertEquals(sha, download(client, "big", 0));
      System.out.printf("GetModel: %.1f s%n", (System.nanoTime() - t0) / 1e9);
      t0 = System.nanoTime();
      FisherProgress done = client.buildFisher(new FisherRequest("big", CurvatureKind.EMPIRICAL,
          InversionMethod.GRAM, 64, 0, 0, 0, 0, 40),
          MemoryLimitsProcessTest.batches(train, 20), p -> {});
      System.out.printf("BuildFisher: %.1f s%n", (System.nanoTime() - t0) / 1e9);
      assertTrue(done.summary().blocks() > 150, "blocks: " + done.summary().blocks());
      assertEquals(3, client.erase(new EraseCommand("big", "first",
          dev.lethe.core.Batches.range(train, 0, 3), false, 0, false)).erased());
      assertEquals(2, client.describe("big").activeVersion());
      String erased = download(client, "big", 0);
      assertNotEquals(sha, erased);
      assertTrue(erased.endsWith(" " + size), "the erased version differs in its weights only: " + erased);
      assertClean(s, data);
    }
    long t0 = System.nanoTime();
    try (MemoryLimitsProcessTest.Server s = MemoryLimitsProcessTest.serve(dir, "second", jvm,
        "--data-dir", data.toString(), "--max-update-ratio", "1000");
        LetheClient client = new LetheClient(s.target())) {
      System.out.printf("restart: %.1f s%n", (System.nanoTime() - t0) / 1e9);
      assertEquals(2, client.describe("big").activeVersion());
      assertEquals(37, client.describe("big").trainSize());
      // The forward session after a restart, from the stored model written out for ONNX Runtime.
      var evaluation = client.evaluate("big", 0, dev.lethe.core.Batches.range(train, 10, 20));
      assertEquals(10, evaluation.losses().length);
      assertTrue(Double.isFinite(evaluation.meanLoss()), "" + evaluation.meanLoss());
      t0 = System.nanoTime();
      assertEquals(3, client.erase(new EraseCommand("big", "second",
          dev.lethe.core.Batches.range(train, 3, 6), false, 0, false)).erased());
      System.out.printf("erase after the restart: %.1f s%n", (System.nanoTime() - t0) / 1e9);
      assertEquals(34, client.describe("big").trainSize());
      assertEquals(sha, download(client, "big", 1));
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

  /** SHA-256 and size of what GetModel streams (nothing written to disk). */
  private static String download(LetheClient client, String name, long version) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    long[] count = new long[1];
    OutputStream counting = new OutputStream() {
      @Override
      public void write(int b) {
        count[0]++;
      }

      @Override
      public void write(byte[] b, int off, int len) {
        count[0] += len;
      }
    };
    try (OutputStream out = new DigestOutputStream(counting, md)) {
      client.getModel(name, version, out);
    }
    return HexFormat.of().formatHex(md.digest()) + " " + count[0];
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
