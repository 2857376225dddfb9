package dev.lethe.spark;

import dev.lethe.client.LetheClient;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.FisherStructure;
import dev.lethe.fisher.InversionMethod;
import dev.lethe.fisher.Linalg;
import dev.lethe.onnx.OnnxBuilder;
import dev.lethe.server.LetheServer;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.apache.spark.sql.SparkSession;

/**
 * The Spark job against BuildFisher on the same data in one run: a 784-64-10 MLP (50 890
 * parameters, blocks of 1024), n random samples written as a CSV file, a sidecar in this JVM on
 * loopback; BuildFisher of model "a" streamed by the Java client, then the job for model "b" in
 * local[N]; prints both wall times and their ratio. Not part of lethe.jar's {@code bench}
 * commands because Spark is not in lethe.jar: run it with Spark on the classpath
 * (docs/fisher.md gives the command). Arguments: [n (2000)] [master (local[2])] [kind (EMPIRICAL)]
 * [task memory bytes (the job's default, 256 MiB)] [structure (block_diagonal; kfac, ekfac: both
 * sides build that structure)].
 */
public final class FisherJobBench {
  private FisherJobBench() {}

  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
    String master = args.length > 1 ? args[1] : "local[2]";
    CurvatureKind kind = CurvatureKind.valueOf(args.length > 2 ? args[2] : "EMPIRICAL");
    long taskBytes = args.length > 3 ? Long.parseLong(args[3]) : 256L << 20;
    FisherStructure structure = FisherStructure.valueOf((args.length > 4 ? args[4]
        : "block_diagonal").toUpperCase(Locale.ROOT));
    Path dir = Files.createTempDirectory("lethe-spark-bench");
    Random rnd = new Random(1);
    byte[] onnx = mlp(rnd);
    float[] x = new float[n * 784];
    long[] y = new long[n];
    StringBuilder csv = new StringBuilder();
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < 784; j++) {
        x[i * 784 + j] = rnd.nextFloat();
        csv.append(x[i * 784 + j]).append(',');
      }
      y[i] = rnd.nextInt(10);
      csv.append(y[i]).append('\n');
    }
    Path file = dir.resolve("train.csv");
    Files.writeString(file, csv);
    csv = null;
    Samples all = new Samples(List.of(), Map.of("x", DenseTensor.ofFloats(new long[] {n, 784}, x)),
        DenseTensor.ofLongs(new long[] {n}, y));
    System.out.printf(Locale.ROOT, "FisherJobBench: MLP 784-64-10 (50890 parameters, blocks of"
        + " 1024), n=%d, %s, %s, Spark %s, %d MiB of sums per task; linear algebra: %s%n", n,
        kind, structure, master, taskBytes >> 20, Linalg.describe());
    LetheServer server = LetheServer.netty(new ServerConfig("127.0.0.1:0", dir.resolve("store"),
        new StoreConfig(10, 1L << 30), 64 << 20, false, 5), s -> {}).start();
    SparkSession spark = SparkSession.builder().master(master).appName("lethe-fisher-bench")
        .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
        .getOrCreate();
    try (LetheClient client = new LetheClient("127.0.0.1:" + server.port())) {
      for (String m : List.of("a", "b")) {
        client.putModel(new ModelConfig(m, LossFunction.SOFTMAX_CROSS_ENTROPY, "z", List.of(), n,
            1e-4, 0, 0, 1024, 0), new ByteArrayInputStream(onnx));
      }
      long t0 = System.nanoTime();
      client.buildFisher(new FisherRequest("a", kind, InversionMethod.GRAM, 1024, 1, 0, 0, 0, 0,
          structure, 0),
          batches(all, 256), p -> {});
      double build = (System.nanoTime() - t0) / 1e9;
      JobOptions o = JobOptions.of(new Sidecar("127.0.0.1:" + server.port(), null, null, null),
          "b", List.of(file.toString())).withKind(kind, 0, 0).withBlocks(1024, taskBytes)
          .withStructure(structure.id());
      long t1 = System.nanoTime();
      FisherJob.run(spark, o);
      double job = (System.nanoTime() - t1) / 1e9;
      System.out.printf(Locale.ROOT, "BuildFisher (one sidecar, streamed by the client): %.2f s%n",
          build);
      System.out.printf(Locale.ROOT, "FisherJob %s (incl. reading the CSV, PutFisherSums):"
          + " %.2f s%n", master, job);
      System.out.printf(Locale.ROOT, "ratio job / BuildFisher: %.2f%n", job / build);
    } finally {
      spark.stop();
      server.stop();
    }
  }

  private static Iterator<Samples> batches(Samples all, int size) {
    List<Samples> out = new ArrayList<>();
    for (int from = 0; from < all.size(); from += size) {
      out.add(dev.lethe.core.Batches.range(all, from, Math.min(all.size(), from + size)));
    }
    return out.iterator();
  }

  private static byte[] mlp(Random rnd) {
    OnnxBuilder b = new OnnxBuilder("mlp").floatInput("x", -1, 784);
    int[] widths = {784, 64, 10};
    String h = "x";
    for (int l = 0; l < 2; l++) {
      float[] w = new float[widths[l + 1] * widths[l]];
      for (int i = 0; i < w.length; i++) {
        w[i] = (float) (rnd.nextGaussian() * Math.sqrt(2.0 / widths[l]));
      }
      b.initializer("W" + l, w, widths[l + 1], widths[l]).initializer("b" + l,
          new float[widths[l + 1]], widths[l + 1]);
      String out = l == 1 ? "z" : "g" + l;
      b.node("Gemm", new String[] {h, "W" + l, "b" + l}, new String[] {out}, "transB", 1L);
      if (l == 0) {
        b.node("Relu", "r0", out);
        h = "r0";
      }
    }
    b.floatOutput("z", -1, 10);
    return b.toBytes();
  }
}
