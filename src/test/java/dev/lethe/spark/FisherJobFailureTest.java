package dev.lethe.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.client.LetheClient;
import dev.lethe.client.RemoteException;
import dev.lethe.core.Batches;
import dev.lethe.core.Samples;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherInverse;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.FisherStore;
import dev.lethe.fisher.InversionMethod;
import dev.lethe.server.LetheServer;
import dev.lethe.testing.Fixtures;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.SparkException;
import org.apache.spark.TaskContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job's failures, in local[2,2] (two threads, a task may fail once and be retried): a task
 * that fails after summing part of its partition is retried and counted once (the Fisher still
 * equals BuildFisher's, 1e-6 per block); a job whose tasks keep failing, or whose sums the
 * sidecar refuses, attaches nothing and stores nothing.
 */
class FisherJobFailureTest {
  private static final int N = 120;
  private static SparkSession spark;
  /** Batches made in this JVM by the flaky maker (local mode: the tasks run here). */
  static final AtomicInteger BATCHES = new AtomicInteger();
  @TempDir Path dir;
  private final Samples train = Fixtures.batch(8, N);

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[2,2]").appName("lethe-failures")
        .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
        .getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  /** Fails the first attempt of partition 1 at its second batch (its first was summed). */
  static final JobDriver.TaskHook FLAKY = new JobDriver.TaskHook() {
    @Override
    public <T> BatchMaker<T> wrap(BatchMaker<T> maker) {
      return new BatchMaker<T>() {
        private int made;

        @Override
        public Samples batch(List<T> elements) {
          BATCHES.incrementAndGet();
          TaskContext task = TaskContext.get();
          if (task.partitionId() == 1 && task.attemptNumber() == 0 && made++ == 1) {
            throw new IllegalStateException("executor lost (test)");
          }
          return maker.batch(elements);
        }
      };
    }
  };

  private static JobOptions options(LetheServer server, String path) {
    return JobOptions.of(new Sidecar("127.0.0.1:" + server.port(), null, null, null), "b",
        List.of(path)).withKind(CurvatureKind.EMPIRICAL, 0, 0).withBlocks(10, 256L << 20)
        .withPartitions(3);
  }

  private static void nothingAttached(LetheServer server, LetheClient client) {
    assertNull(client.describe("b").fisher());
    assertTrue(FisherStore.storedIds(server.database()).getOrDefault("b", Set.of()).isEmpty());
  }

  @Test
  void aRetriedTaskIsCountedOnce() throws Exception {
    String csv = SparkFixture.csv(train, Files.createDirectories(dir.resolve("data")));
    LetheServer server = SparkFixture.sidecar(dir.resolve("store"));
    try (LetheClient client = new LetheClient("127.0.0.1:" + server.port())) {
      for (String m : List.of("a", "b")) {
        client.putModel(Fixtures.spec(m).withTrainSize(N), new ByteArrayInputStream(Fixtures.mlp(2).onnx()));
      }
      client.buildFisher(new FisherRequest("a", CurvatureKind.EMPIRICAL, InversionMethod.GRAM, 10,
          1, 0, 0, 0, 0), List.of(new Samples(List.of(), train.inputs(), train.labels())).iterator(),
          p -> {});
      BATCHES.set(0);
      JobOptions o = new JobOptions(options(server, csv).sidecar(), "b", 0, List.of(csv), null,
          null, null, CurvatureKind.EMPIRICAL, "block_diagonal", 10, 0, 0, 3, "features", "label",
          java.util.Map.of(), 256L << 20, 16, 4L << 30);
      assertEquals(N, JobDriver.run(spark, o, p -> {}, FLAKY).summary().samples());
      // 3 partitions of 40 samples in batches of 16 = 9 batches, plus the failed attempt's 2
      assertEquals(11, BATCHES.get());
      String fa = client.describe("a").fisher().fisherId();
      String fb = client.describe("b").fisher().fisherId();
      try (FisherInverse a = server.fishers().store().open("a", fa, null, 1, true);
          FisherInverse b = server.fishers().store().open("b", fb, null, 1, true)) {
        SparkFixture.assertSameBlocks(a, b, 1e-6, "retried");
      }
    } finally {
      server.stop();
    }
  }

  @Test
  void unknownStructuresAndKindsAreRefusedBeforeAnyWork() throws Exception {
    JobOptions diagonal = new JobOptions(new Sidecar("127.0.0.1:1", null, null, null), "b", 0,
        List.of("unused.csv"), null, null, null, CurvatureKind.TRUE, "diagonal", 0, 0, 0, 0,
        "features", "label", java.util.Map.of(), 256L << 20, 256, 4L << 30);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> FisherJob.run(spark, diagonal));
    assertTrue(e.getMessage().startsWith("--structure: must be block_diagonal, kfac, ekfac or"
        + " auto, got 'diagonal'"), e.getMessage());
    FisherJob job = new FisherJob();
    picocli.CommandLine.populateCommand(job, "--sidecar", "h:1", "--model", "m", "--data", "d.csv",
        "--kind", "FISHY");
    e = assertThrows(IllegalArgumentException.class, job::options);
    assertTrue(e.getMessage().startsWith("--kind: 'FISHY'"), e.getMessage());
    assertEquals(2, new picocli.CommandLine(new FisherJob()).execute("--sidecar", "h:1",
        "--model", "m", "--data", "d.csv", "--kind", "FISHY"));
  }

  @Test
  void aFailedJobOrRefusedSumsAttachNothing() throws Exception {
    Path data = Files.createDirectories(dir.resolve("data"));
    Samples bad = Batches.range(train, 0, N);
    bad.inputs().get("x").floats()[7] = Float.NaN; // a fresh copy: range copies
    String nan = SparkFixture.parquet(spark, bad, data); // (the CSV reader refuses NaN itself)
    String short_ = SparkFixture.csv(Batches.range(train, 0, N - 1),
        Files.createDirectories(dir.resolve("short")));
    LetheServer server = SparkFixture.sidecar(dir.resolve("store"));
    try (LetheClient client = new LetheClient("127.0.0.1:" + server.port())) {
      client.putModel(Fixtures.spec("b").withTrainSize(N), new ByteArrayInputStream(Fixtures.mlp(2).onnx()));
      // Every attempt of a task refuses the NaN sample: the job fails before the sidecar is told.
      SparkException failed = assertThrows(SparkException.class,
          () -> FisherJob.run(spark, options(server, nan)));
      assertTrue(String.valueOf(failed.getMessage()).contains("samples.inputs[x]"), failed.getMessage());
      nothingAttached(server, client);
      // The sums of N - 1 samples reach the sidecar, which refuses them.
      RemoteException refused = assertThrows(RemoteException.class,
          () -> FisherJob.run(spark, options(server, short_)));
      assertEquals("INVALID_ARGUMENT", refused.code());
      assertTrue(refused.getMessage().contains("header.samples"), refused.getMessage());
      nothingAttached(server, client);
    } finally {
      server.stop();
    }
  }
}
