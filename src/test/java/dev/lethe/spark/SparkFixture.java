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
    StructType schema = new StructType()
        .add("x", DataTypes.createArrayType(DataTypes.FloatType, false), false)
        .add("label", DataTypes.LongType, false);
    float[] x = s.inputs().get("x").floats();
    long[] y = s.labels().longs();
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < s.size(); i++) {
      List<Float> f = new ArrayList<>();
      for (int j = 0; j < Fixtures.IN; j++) {
        f.add(x[i * Fixtures.IN + j]);
      }
      rows.add(RowFactory.create(f, y[i]));
    }
    String path = dir.resolve("train.parquet").toString();
    spark.createDataFrame(rows, schema).coalesce(1).write().parquet(path);
    return path;
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
