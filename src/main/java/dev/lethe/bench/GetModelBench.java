package dev.lethe.bench;

import dev.lethe.client.LetheClient;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.onnx.OnnxBuilder;
import dev.lethe.server.LetheServer;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * GetModel throughput over loopback gRPC, beside reading the same bytes from a local file in the
 * same run (both consumers discard the bytes; the download also checks the sha256, as the CLI
 * does), after a warm-up. Usage: {@code lethe bench get-model [sizeMiB] [repeats]} (default 256 MiB, 5 repeats).
 */
public final class GetModelBench {
  /** Downloads before timing starts, so the JIT has compiled the path being measured. */
  private static final int WARMUP = 3;
  private GetModelBench() {}

  public static void main(String[] args) throws Exception {
    int sizeMiB = BenchSupport.intArg(args, 0, 256);
    int repeats = BenchSupport.intArg(args, 1, 5);
    Path dir = Files.createTempDirectory("lethe-bench");
    try {
      run(dir, sizeMiB, repeats);
    } finally {
      try (var paths = Files.walk(dir)) {
        paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static void run(Path dir, int sizeMiB, int repeats) throws Exception {
    int in = 4096;
    int out = (int) ((long) sizeMiB * (1 << 20) / 4 / in);
    float[] w = new float[out * in];
    Random r = new Random(1);
    for (int i = 0; i < w.length; i++) {
      w[i] = r.nextFloat();
    }
    byte[] onnx = new OnnxBuilder("bench")
        .floatInput("x", -1, in)
        .initializer("W", w, out, in)
        .node("Gemm", new String[] {"x", "W"}, new String[] {"y"}, "transB", 1L)
        .floatOutput("y", -1, out)
        .toBytes();
    w = null;
    Path file = dir.resolve("model.onnx");
    Files.write(file, onnx);
    double mb = onnx.length / 1e6;
    System.out.printf("GetModel benchmark: model of %.1f MB (%d x %d float32 weights), %d repeats%n",
        mb, out, in, repeats);
    ServerConfig config = new ServerConfig("127.0.0.1:0", dir.resolve("data"),
        new StoreConfig(2, Integer.MAX_VALUE - 64), 64 << 20, false, 5);
    LetheServer server = LetheServer.netty(config, s -> {}).start();
    try (LetheClient client = new LetheClient("127.0.0.1:" + server.port())) {
      client.putModel(new ModelConfig("bench", LossFunction.MEAN_SQUARED_ERROR, "", List.of(), 1, 0, 0, 0, 0, 0),
          new ByteArrayInputStream(onnx));
      onnx = null;
      for (int i = 0; i < WARMUP; i++) {
        client.getModel("bench", 0, OutputStream.nullOutputStream());
      }
      double[] grpc = new double[repeats];
      double[] local = new double[repeats];
      for (int i = 0; i < repeats; i++) {
        long t0 = System.nanoTime();
        try (InputStream f = Files.newInputStream(file)) {
          f.transferTo(OutputStream.nullOutputStream());
        }
        long t1 = System.nanoTime();
        client.getModel("bench", 0, OutputStream.nullOutputStream());
        long t2 = System.nanoTime();
        local[i] = mb / ((t1 - t0) / 1e9);
        grpc[i] = mb / ((t2 - t1) / 1e9);
        System.out.printf("  run %d: local file %8.1f MB/s   GetModel %8.1f MB/s%n", i + 1, local[i], grpc[i]);
      }
      double g = median(grpc);
      double l = median(local);
      System.out.printf("median: GetModel over loopback %.1f MB/s; local file read %.1f MB/s; "
          + "ratio %.2f%n", g, l, g / l);
    } finally {
      server.stop();
    }
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }

}
