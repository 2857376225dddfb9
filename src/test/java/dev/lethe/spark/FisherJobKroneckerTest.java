package dev.lethe.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.client.LetheClient;
import dev.lethe.core.Batches;
import dev.lethe.core.EraseOutcome;
import dev.lethe.core.Samples;
import dev.lethe.erase.EraseCommand;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.FisherSolver;
import dev.lethe.fisher.FisherStructure;
import dev.lethe.fisher.InversionMethod;
import dev.lethe.fisher.Kronecker;
import dev.lethe.fisher.StoredParts;
import dev.lethe.server.LetheServer;
import dev.lethe.testing.Fixtures;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The Spark job's KFAC and EKFAC Fishers in local[2] against a real loopback sidecar, beside the
 * ones BuildFisher builds from the same samples on a twin model: KFAC's stored factors A and G,
 * EKFAC's second moments Λ* (squares: independent of the eigenvectors' signs), and F⁻¹v for
 * random v through each Fisher's solver, all within {@link #FACTOR} relative (Frobenius / 2-norm);
 * the erase after it gives the same update within {@link #UPDATE} relative to the update. 300
 * samples in three CSV partitions (row order kept, so MONTE_CARLO draws keyed by stream position
 * match in both EKFAC passes) or as Parquet.
 */
class FisherJobKroneckerTest {
  private static final double FACTOR = 1e-6;
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
  @CsvSource({"KFAC, TRUE, csv", "EKFAC, TRUE, csv", "EKFAC, EMPIRICAL, parquet",
      "EKFAC, MONTE_CARLO, csv"})
  void theJobsKroneckerFisherEqualsBuildFishersAndErasesTheSame(FisherStructure structure,
      CurvatureKind kind, String format) throws Exception {
    Path data = Files.createDirectories(dir.resolve("data"));
    List<String> paths = format.equals("csv") ? List.of(SparkFixture.csv(train, data))
        : List.of(SparkFixture.parquet(spark, train, data));
    LetheServer server = SparkFixture.sidecar(dir.resolve("store"));
    try (LetheClient client = new LetheClient("127.0.0.1:" + server.port())) {
      for (String model : List.of("a", "b")) {
        client.putModel(Fixtures.spec(model).withTrainSize(N), new ByteArrayInputStream(mlp.onnx()));
      }
      int draws = kind == CurvatureKind.MONTE_CARLO ? 3 : 0;
      FisherProgress built = client.buildFisher(new FisherRequest("a", kind, InversionMethod.GRAM,
          10, 1, draws, 7, 0, 0, structure, 0),
          List.of(Batches.range(train, 0, 128), Batches.range(train, 128, N)).stream()
              .map(s -> new Samples(List.of(), s.inputs(), s.labels())).iterator(), p -> {});
      assertEquals(structure, built.summary().structure());
      JobOptions o = JobOptions.of(new Sidecar("127.0.0.1:" + server.port(), null, null, null),
          "b", paths).withKind(kind, draws, 7).withBlocks(10, 256L << 20)
          .withPartitions(format.equals("csv") ? 3 : 0).withStructure(structure.id());
      FisherProgress done = FisherJob.run(spark, o);
      assertTrue(done.done());
      assertEquals(N, done.summary().samples());
      assertEquals(structure, done.summary().structure());
      assertEquals(built.summary().blocks(), done.summary().blocks());

      String fa = client.describe("a").fisher().fisherId();
      String fb = client.describe("b").fisher().fisherId();
      assertEquals(fb, done.summary().fisherId());
      int layers = StoredParts.layers(server.fishers(), "a", fa);
      assertTrue(layers > 0);
      assertEquals(layers, StoredParts.layers(server.fishers(), "b", fb));
      List<Byte> parts = structure == FisherStructure.KFAC
          ? List.of(Kronecker.A, Kronecker.G, Kronecker.LAMBDA_A, Kronecker.LAMBDA_G)
          : List.of(Kronecker.LAMBDA_E, Kronecker.LAMBDA_A, Kronecker.LAMBDA_G);
      for (int l = 0; l < layers; l++) {
        for (byte part : parts) {
          double[] x = StoredParts.read(server.fishers(), "a", fa, l, part);
          double[] y = StoredParts.read(server.fishers(), "b", fb, l, part);
          assertEquals(x.length, y.length);
          double rel = relative(x, y);
          assertTrue(rel <= FACTOR, structure + " layer " + l + " part " + (char) part
              + ": relative difference " + rel);
        }
      }
      FisherSolver sa = server.fishers().solver("a", fa);
      FisherSolver sb = server.fishers().solver("b", fb);
      Random random = new Random(5);
      for (int t = 0; t < 3; t++) {
        double[] v = new double[27];
        for (int j = 0; j < v.length; j++) {
          v[j] = random.nextGaussian();
        }
        double[] xa = new double[27];
        double[] xb = new double[27];
        sa.apply(v, xa);
        sb.apply(v, xb);
        double rel = relative(xa, xb);
        assertTrue(rel <= FACTOR, structure + ": F⁻¹v differs by " + rel + " relative");
      }

      Samples forget = Batches.range(train, 0, 5);
      float[] before = FisherJobTest.weights(client, "a", 1);
      EraseOutcome ea = client.erase(new EraseCommand("a", "", forget, false, 0, false));
      EraseOutcome eb = client.erase(new EraseCommand("b", "", forget, false, 0, false));
      assertEquals(ea.step(), eb.step());
      float[] wa = FisherJobTest.weights(client, "a", 2);
      float[] wb = FisherJobTest.weights(client, "b", 2);
      double diff = 0;
      double norm = 0;
      for (int j = 0; j < wa.length; j++) {
        diff += (wa[j] - wb[j]) * (double) (wa[j] - wb[j]);
        norm += (wa[j] - before[j]) * (double) (wa[j] - before[j]);
      }
      assertTrue(norm > 0 && Math.sqrt(diff / norm) <= UPDATE,
          structure + ": the erases' updates differ by " + Math.sqrt(diff / norm) + " relative");
    } finally {
      server.stop();
    }
  }

  /** --structure auto: BuildPlan's rule against the storage budget, as the sidecar's AUTO. */
  @org.junit.jupiter.api.Test
  void autoPicksBlockDiagonalWithinTheBudgetAndEkfacBeyondIt() throws Exception {
    Path data = Files.createDirectories(dir.resolve("data"));
    List<String> paths = List.of(SparkFixture.csv(train, data));
    LetheServer server = SparkFixture.sidecar(dir.resolve("store"));
    try (LetheClient client = new LetheClient("127.0.0.1:" + server.port())) {
      client.putModel(Fixtures.spec("b").withTrainSize(N), new ByteArrayInputStream(mlp.onnx()));
      JobOptions o = JobOptions.of(new Sidecar("127.0.0.1:" + server.port(), null, null, null),
          "b", paths).withBlocks(10, 256L << 20).withPartitions(2).withStructure("auto");
      assertEquals(FisherStructure.BLOCK_DIAGONAL, FisherJob.run(spark, o).summary().structure());
      // the block-diagonal Fisher of 27 parameters takes more than 100 bytes
      assertEquals(FisherStructure.EKFAC,
          FisherJob.run(spark, o.withStorageBudget(100)).summary().structure());
    } finally {
      server.stop();
    }
  }

  static double relative(double[] x, double[] y) {
    double diff = 0;
    double norm = 0;
    for (int i = 0; i < x.length; i++) {
      diff += (x[i] - y[i]) * (x[i] - y[i]);
      norm += x[i] * x[i];
    }
    return norm == 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
  }
}
