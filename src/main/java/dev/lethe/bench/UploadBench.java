package dev.lethe.bench;

import dev.lethe.client.LetheClient;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The largest upload a small heap takes, beside the limit it had when registration parsed the
 * whole file on the heap (min(--max-model-bytes, upload share / 3)): {@code lethe serve} is
 * started as a child JVM at {@code -Xmx<heapMiB>m} (demo registered), a {@link FrozenMlp} of
 * about {@code modelMiB} (frozen 1024 × 1024 layers, an erasable 1024 × 10 head) is uploaded,
 * GetModel's bytes are compared with it (SHA-256), and the sidecar's RSS is sampled during the
 * upload. The old limit is computed from the budget line the sidecar logs in the same run.
 *
 * <p>Usage: {@code lethe bench upload [heapMiB=256] [modelMiB=512]}. Needs about 3 × modelMiB of
 * disk in the temporary directory.
 */
public final class UploadBench {
  private static final Pattern UPLOAD_SHARE = Pattern.compile("upload checks ([0-9.]+) MiB");
  private static final long DEFAULT_MAX_MODEL_BYTES = 1L << 30;

  private UploadBench() {}

  public static void main(String[] args) throws Exception {
    int heapMiB = BenchSupport.intArg(args, 0, 256);
    int modelMiB = BenchSupport.intArg(args, 1, 512);
    Path dir = Files.createTempDirectory("lethe-upload");
    Path log = dir.resolve("serve.log");
    Process server = MemoryBench.start(dir, log, heapMiB);
    try {
      int port = MemoryBench.awaitPort(server, log);
      Matcher share = UPLOAD_SHARE.matcher(Files.readString(log));
      if (!share.find()) {
        throw new IllegalStateException("no budget line in the log: " + Files.readString(log));
      }
      double shareMiB = Double.parseDouble(share.group(1));
      long oldLimit = Math.min(DEFAULT_MAX_MODEL_BYTES, (long) (shareMiB * 1048576 / 3));
      Path model = dir.resolve("frozen.onnx");
      int hidden = 1024;
      long size = FrozenMlp.write(model, 64, hidden,
          FrozenMlp.layersFor((long) modelMiB << 20, hidden), 10, 1);
      long idle = MemoryBench.rss(server.pid());
      MessageDigest sent = MessageDigest.getInstance("SHA-256");
      MemoryBench.Sampler rss = new MemoryBench.Sampler(server.pid());
      long t0 = System.nanoTime();
      String error = null;
      try (LetheClient client = new LetheClient("127.0.0.1:" + port)) {
        try (InputStream in = new DigestInputStream(Files.newInputStream(model), sent)) {
          client.putModel(FrozenMlp.spec("frozen", 1000, 64), in);
        } catch (RuntimeException e) {
          error = e.getMessage();
        } finally {
          rss.stop();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf("UploadBench: sidecar at -Xmx%dm, upload share %.1f MiB of heap; model"
            + " %.1f MiB (%s)%n", heapMiB, shareMiB, MemoryBench.mib(size),
            "64-1024x" + FrozenMlp.layersFor((long) modelMiB << 20, hidden) + "-10, head erasable");
        System.out.printf("old limit (whole file parsed on the heap, upload share / 3): %.1f MiB"
            + " (baseline)%n", MemoryBench.mib(oldLimit));
        if (error != null) {
          System.out.println("upload refused: " + error);
          return;
        }
        MessageDigest got = MessageDigest.getInstance("SHA-256");
        try (OutputStream out = new DigestOutputStream(OutputStream.nullOutputStream(), got)) {
          client.getModel("frozen", 0, out);
        }
        boolean same = HexFormat.of().formatHex(sent.digest()).equals(HexFormat.of().formatHex(got.digest()));
        long after = MemoryBench.rss(server.pid());
        System.out.printf("registered %.1f MiB in %.1f s = %.1fx the old limit; GetModel bytes"
            + " identical: %s%n", MemoryBench.mib(size), seconds, size / (double) oldLimit, same);
        System.out.printf("RSS %.1f MiB before, peak %.1f MiB during the upload, %.1f MiB after"
            + " (%.1fx the frozen weights: ONNX Runtime's copies in the forward and gradient"
            + " sessions, native)%n", MemoryBench.mib(idle), MemoryBench.mib(rss.peak()),
            MemoryBench.mib(after), (after - idle) / (double) size);
      }
    } finally {
      server.destroy();
      server.waitFor(30, TimeUnit.SECONDS);
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
