package dev.lethe.spark;

import dev.lethe.core.Samples;
import dev.lethe.erase.EraseConfig;
import dev.lethe.server.LetheServer;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/** A Spark local[2] session, a loopback sidecar, and the MLP fixture's samples as data files. */
final class SparkFixture {
  private SparkFixture() {}

  /** local[2], no UI, two shuffle partitions (a test's data is small). */
  /**
   * Asserts every block of F⁻¹ of {@code a} equals {@code b}'s within {@code relative} (Frobenius
   * norm of the difference over a's), after their layouts match.
   */
  static void assertSameBlocks(dev.lethe.fisher.FisherInverse a, dev.lethe.fisher.FisherInverse b,
      double relative, String what) {
    org.junit.jupiter.api.Assertions.assertEquals(a.layout(), b.layout(), what + " layout");
    for (int k = 0; k < a.layout().blockCount(); k++) {
      int size = a.layout().size(k);
      float[] x = new float[size * size];
      float[] y = new float[size * size];
      a.readBlock(k, x);
      b.readBlock(k, y);
      double diff = 0;
      double norm = 0;
      for (int i = 0; i < x.length; i++) {
        diff += (x[i] - y[i]) * (double) (x[i] - y[i]);
        norm += x[i] * (double) x[i];
      }
      double d = Math.sqrt(diff / norm);
      org.junit.jupiter.api.Assertions.assertTrue(d <= relative,
          what + " block " + k + ": relative difference " + d);
    }
  }

  static SparkSession spark() {
    return SparkSession.builder().master("local[2]").appName("lethe-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate();
  }

  /** A sidecar on an ephemeral loopback port; erase guards relaxed (the fixture is untrained). */
  static LetheServer sidecar(Path dir) throws IOException {
    return LetheServer.netty(new ServerConfig("127.0.0.1:0", dir, new StoreConfig(10, 1 << 20),
        64 << 20, false, 5, new EraseConfig(10_000, 100.0, 64 << 20), 1L << 30), s -> {}).start();
  }

  /** The samples as one Parquet file: column "x" (array of 4 floats) and "label" (long). */
  static String parquet(SparkSession spark, Samples s, Path dir) {
    return parquet(spark, s, dir, "x", true);
  }

  /** The same with the features in {@code column}, and with or without the label column. */
  static String parquet(SparkSession spark, Samples s, Path dir, String column, boolean labels) {
    StructType schema = new StructType()
        .add(column, DataTypes.createArrayType(DataTypes.FloatType, false), false);
    if (labels) {
      schema = schema.add("label", DataTypes.LongType, false);
    }
    float[] x = s.inputs().get("x").floats();
    long[] y = s.labels().longs();
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < s.size(); i++) {
      List<Float> f = new ArrayList<>();
      for (int j = 0; j < Fixtures.IN; j++) {
        f.add(x[i * Fixtures.IN + j]);
      }
      rows.add(labels ? RowFactory.create(f, y[i]) : RowFactory.create(f));
    }
    String path = dir.resolve("train.parquet").toString();
    spark.createDataFrame(rows, schema).coalesce(1).write().parquet(path);
    return path;
  }

  /**
   * {@code n} samples of 2 × 2 unsigned-byte "images" (the MLP's 4 features) and labels in
   * [0, 3), written as the IDX images and labels files the CLI reads; returns their paths and,
   * through {@code out}, the samples as the job sends them (x · scale, float arithmetic).
   */
  static List<String> idx(long seed, int n, float scale, Path dir, Samples[] out)
      throws IOException {
    java.util.Random r = new java.util.Random(seed);
    byte[] pixels = new byte[n * Fixtures.IN];
    r.nextBytes(pixels);
    byte[] labels = new byte[n];
    float[] x = new float[n * Fixtures.IN];
    long[] y = new long[n];
    for (int i = 0; i < n; i++) {
      labels[i] = (byte) r.nextInt(Fixtures.CLASSES);
      y[i] = labels[i];
    }
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (pixels[i] & 0xff) * scale + 0f;
    }
    out[0] = new Samples(List.of(), java.util.Map.of("x", dev.lethe.core.DenseTensor.ofFloats(
        new long[] {n, Fixtures.IN}, x)), dev.lethe.core.DenseTensor.ofLongs(new long[] {n}, y));
    Path images = dir.resolve("train-images-idx3-ubyte");
    Path labelFile = dir.resolve("train-labels-idx1-ubyte");
    java.nio.ByteBuffer img = java.nio.ByteBuffer.allocate(16 + pixels.length);
    img.putInt(0x00000803).putInt(n).putInt(2).putInt(2).put(pixels);
    Files.write(images, img.array());
    java.nio.ByteBuffer lab = java.nio.ByteBuffer.allocate(8 + n);
    lab.putInt(0x00000801).putInt(n).put(labels);
    Files.write(labelFile, lab.array());
    return List.of(images.toString(), labelFile.toString());
  }

  /** The samples as a CSV file as the CLI reads it (features, then the label). */
  static String csv(Samples s, Path dir) throws IOException {
    float[] x = s.inputs().get("x").floats();
    long[] y = s.labels().longs();
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.size(); i++) {
      for (int j = 0; j < Fixtures.IN; j++) {
        b.append(x[i * Fixtures.IN + j]).append(',');
      }
      b.append(y[i]).append('\n');
    }
    Path file = dir.resolve("train.csv");
    Files.writeString(file, b);
    return file.toString();
  }
}
