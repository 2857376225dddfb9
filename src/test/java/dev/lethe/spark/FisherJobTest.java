package dev.lethe.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.client.LetheClient;
import dev.lethe.core.Batches;
import dev.lethe.core.EraseOutcome;
import dev.lethe.core.Samples;
import dev.lethe.erase.EraseCommand;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherInverse;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.InversionMethod;
import dev.lethe.onnx.WeightSplicer;
import dev.lethe.server.LetheServer;
import dev.lethe.testing.Fixtures;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark job in local[2] against a real loopback sidecar: the Fisher it hands over equals the
 * one BuildFisher builds from the same samples (every block of F⁻¹ within {@link #BLOCK} relative,
 * Frobenius), and the erase after it gives the same update (within {@link #UPDATE} relative to
 * the update). Two identical models, one built each way; blocks of 10 over the 27 parameters
 * (four blocks), 300 samples in three partitions. MONTE_CARLO draws are seeded by stream
 * position, so the CSV case (row order kept) reproduces BuildFisher's draws exactly. The IDX case
 * sends bytes scaled by --feature-scale 1/255, as BuildFisher's samples are made here.
 * One Parquet case keeps a one-input model's features in the default "features" column and has
 * no label column (then the convergence moments are not measured).
 */
class FisherJobTest {
  private static final double BLOCK = 1e-6;
  private static final double UPDATE = 1e-5;
  private static final int N = 300;
  private static SparkSession spark;
  @TempDir Path dir;
  private final Fixtures.Mlp mlp = Fixtures.mlp(41);
  private final Samples train = Fixtures.batch(42, N);

  @BeforeAll
  static void startSpark() {
    spark = SparkFixture.spark();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  @ParameterizedTest
  @CsvSource({"TRUE, parquet", "TRUE, parquet-unlabelled", "EMPIRICAL, parquet",
      "EMPIRICAL, csv", "MONTE_CARLO, csv", "TRUE, idx"})
  void theJobsFisherEqualsBuildFishersAndErasesTheSame(CurvatureKind kind, String format)
      throws Exception {
    Path data = Files.createDirectories(dir.resolve("data"));
    Samples[] fromBytes = new Samples[1];
    float scale = 1f / 255;
    List<String> paths = switch (format) {
      case "csv" -> List.of(SparkFixture.csv(train, data));
      case "idx" -> SparkFixture.idx(43, N, scale, data, fromBytes);
      // a one-input model's features in the default column "features", no labels (TRUE needs none)
      case "parquet-unlabelled" -> List.of(SparkFixture.parquet(spark, train, data, "features", false));
      default -> List.of(SparkFixture.parquet(spark, train, data));
    };
    Samples train = format.equals("idx") ? withIds(fromBytes[0]) : this.train;
    LetheServer server = SparkFixture.sidecar(dir.resolve("store"));
    try (LetheClient client = new LetheClient("127.0.0.1:" + server.port())) {
      for (String model : List.of("a", "b")) {
        client.putModel(Fixtures.spec(model).withTrainSize(N), new ByteArrayInputStream(mlp.onnx()));
      }
      int draws = kind == CurvatureKind.MONTE_CARLO ? 3 : 0;
      FisherProgress built = client.buildFisher(new FisherRequest("a", kind, InversionMethod.GRAM,
          10, 1, draws, 7, 0, 0),
          List.of(Batches.range(train, 0, 128), Batches.range(train, 128, N)).stream()
              .map(FisherJobTest::withoutIds).iterator(), p -> {});
      JobOptions o = JobOptions.of(new Sidecar("127.0.0.1:" + server.port(), null, null, null),
          "b", paths).withKind(kind, draws, 7).withBlocks(10, 256L << 20)
          .withPartitions(format.startsWith("parquet") ? 0 : 3)
          .withFeatureScale(format.equals("idx") ? (double) scale : null);
      FisherProgress done = FisherJob.run(spark, o);
      assertTrue(done.done());
      assertEquals(N, done.summary().samples());
      assertEquals(4, done.summary().blocks());
      // the convergence check from the sums of the per-sample gradients, as the build measures it
      if (format.equals("parquet-unlabelled")) {
        assertEquals(0, done.summary().convergence().gradientRms());
      } else {
        dev.lethe.fisher.Convergence want = built.summary().convergence();
        dev.lethe.fisher.Convergence got = done.summary().convergence();
        assertTrue(want.gradientRms() > 0 && want.meanGradientNorm() > 0, want.toString());
        assertEquals(want.meanGradientNorm(), got.meanGradientNorm(), 1e-5 * want.meanGradientNorm());
        assertEquals(want.gradientRms(), got.gradientRms(), 1e-5 * want.gradientRms());
      }

      String fa = client.describe("a").fisher().fisherId();
      String fb = client.describe("b").fisher().fisherId();
      assertEquals(fb, done.summary().fisherId());
      try (FisherInverse a = server.fishers().store().open("a", fa, null, 1, true);
          FisherInverse b = server.fishers().store().open("b", fb, null, 1, true)) {
        SparkFixture.assertSameBlocks(a, b, BLOCK, kind.name());
        assertEquals(a.header().samples(), b.header().samples());
        assertEquals(a.header().rows().perSample(), b.header().rows().perSample());
        assertEquals(a.header().kind(), b.header().kind());
      }

      // The same erase on both (the default step; LEAVE_OUT where the Fisher allows it).
      Samples forget = Batches.range(train, 0, 5);
      float[] before = weights(client, "a", 1);
      EraseOutcome ea = client.erase(new EraseCommand("a", "", forget, false, 0, false));
      EraseOutcome eb = client.erase(new EraseCommand("b", "", forget, false, 0, false));
      assertEquals(ea.step(), eb.step());
      float[] wa = weights(client, "a", 2);
      float[] wb = weights(client, "b", 2);
      double diff = 0;
      double norm = 0;
      for (int j = 0; j < wa.length; j++) {
        diff += (wa[j] - wb[j]) * (double) (wa[j] - wb[j]);
        norm += (wa[j] - before[j]) * (double) (wa[j] - before[j]);
      }
      assertTrue(norm > 0 && Math.sqrt(diff / norm) <= UPDATE,
          kind + ": the erases' updates differ by " + Math.sqrt(diff / norm) + " relative");
    } finally {
      server.stop();
    }
  }

  private static Samples withIds(Samples s) {
    return new Samples(java.util.stream.IntStream.range(0, s.size()).mapToObj(i -> "s" + i)
        .toList(), s.inputs(), s.labels());
  }

  private static Samples withoutIds(Samples s) {
    return new Samples(List.of(), s.inputs(), s.labels());
  }

  static float[] weights(LetheClient client, String model, long version) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    client.getModel(model, version, out);
    byte[] w = WeightSplicer.split(out.toByteArray(), List.of("W1", "b1", "W2", "b2"),
        new long[] {12, 3, 9, 3}).weights();
    float[] theta = new float[27];
    ByteBuffer.wrap(w).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(theta);
    return theta;
  }
}
