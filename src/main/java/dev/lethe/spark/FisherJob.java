package dev.lethe.spark;

import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherProgress;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The Spark job that builds a model's Fisher over a training set in a data lake: every executor
 * fetches the model version from the sidecar, runs Lethe's gradient graph over its partitions
 * with ONNX Runtime and sums the Fisher blocks in double; the sums are combined by block and
 * handed to the sidecar (PutFisherSums), which inverts, stores and attaches the Fisher as
 * BuildFisher would. Run it with spark-submit:
 *
 * <pre>
 * spark-submit --class dev.lethe.spark.FisherJob target/lethe.jar \
 *   --sidecar host:50051 --token $LETHE_WRITE_TOKEN --model M --data s3a://bucket/train.parquet
 * </pre>
 *
 * Spark is a provided dependency: the cluster's Spark runs it; lethe.jar does not contain Spark.
 * Exit status 0 when the Fisher is attached, 1 when the job or the sidecar failed (nothing is
 * attached then), 2 for bad options.
 */
@Command(name = "FisherJob", mixinStandardHelpOptions = true,
    description = "Builds a Lethe Fisher on a Spark cluster and hands the sums to the sidecar.")
public final class FisherJob implements Callable<Integer> {
  @Option(names = "--sidecar", required = true, paramLabel = "HOST:PORT",
      description = "The Lethe sidecar's gRPC address, reachable from the driver and every executor.")
  String sidecar;

  @Option(names = "--token", paramLabel = "TOKEN", defaultValue = "${env:LETHE_TOKEN}",
      description = "The sidecar's write token (default: $LETHE_TOKEN).")
  String token;

  @Option(names = "--tls-ca", paramLabel = "PEM",
      description = "CA to trust for TLS (the same path on every executor); default plaintext.")
  String tlsCa;

  @Option(names = "--model", required = true, paramLabel = "NAME")
  String model;

  @Option(names = "--version", defaultValue = "0", description = "Version (0 = the active one).")
  long version;

  @Option(names = "--data", required = true, arity = "1..2", paramLabel = "PATH",
      description = "Parquet file/directory, or an IDX images file (and labels file), or a CSV file.")
  List<String> data;

  @Option(names = "--format", description = "parquet, idx or csv (default: from the name).")
  String format;

  @Option(names = "--feature-scale", paramLabel = "S",
      description = "Send each float feature x as x * S + offset (default: the spec's).")
  Double featureScale;

  @Option(names = "--feature-offset", paramLabel = "O", description = "Default: the spec's.")
  Double featureOffset;

  @Option(names = "--kind", defaultValue = "TRUE",
      description = "TRUE, EMPIRICAL or MONTE_CARLO; default ${DEFAULT-VALUE}.")
  String kind;

  @Option(names = "--structure", defaultValue = "block_diagonal",
      description = "block_diagonal, kfac, ekfac (a second pass in the first pass's eigenbasis)"
          + " or auto (block_diagonal while its stored size fits --storage-budget-bytes, else"
          + " ekfac, as the sidecar's AUTO); default ${DEFAULT-VALUE}.")
  String structure;

  @Option(names = "--storage-budget-bytes", defaultValue = "4294967296",
      description = "auto: the sidecar's --fisher-storage-budget-bytes; default ${DEFAULT-VALUE}.")
  long storageBudget;

  @Option(names = "--block-size", defaultValue = "0", description = "B (0 = the spec's).")
  int blockSize;

  @Option(names = "--draws", defaultValue = "0", description = "MONTE_CARLO draws per sample (0 = 1).")
  int draws;

  @Option(names = "--seed", defaultValue = "0", description = "MONTE_CARLO seed.")
  long seed;

  @Option(names = "--partitions", defaultValue = "0",
      description = "Repartition the data (0 = as read, or Spark's default parallelism for files).")
  int partitions;

  @Option(names = "--features-column", defaultValue = "features",
      description = "Parquet: the array column of a one-input model's features; default ${DEFAULT-VALUE}.")
  String featuresColumn;

  @Option(names = "--label-column", defaultValue = "label",
      description = "Parquet: the label column; default ${DEFAULT-VALUE}.")
  String labelColumn;

  @Option(names = "--input", paramLabel = "NAME=COLUMN",
      description = "Parquet: the column of a model input (default: the column named like it).")
  Map<String, String> inputs = Map.of();

  @Option(names = "--task-memory-bytes", defaultValue = "268435456",
      description = "Most bytes of block sums one task holds; more blocks run as further stages.")
  long groupBytes;

  @Option(names = "--batch", defaultValue = "256", description = "Samples per ONNX Runtime run.")
  int batch;

  public static void main(String[] args) {
    System.exit(new CommandLine(new FisherJob()).execute(args));
  }

  JobOptions options() {
    CurvatureKind k;
    try {
      k = CurvatureKind.valueOf(kind.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--kind: '" + kind + "' is not TRUE, EMPIRICAL or MONTE_CARLO");
    }
    return new JobOptions(new Sidecar(sidecar, token == null || token.isEmpty() ? null : token,
        tlsCa, null), model, version, data, format, featureScale, featureOffset, k, structure,
        blockSize, draws, seed, partitions, featuresColumn, labelColumn, inputs, groupBytes, batch,
        storageBudget);
  }

  @Override
  public Integer call() throws Exception {
    JobOptions o;
    try {
      o = options();
    } catch (IllegalArgumentException e) {
      System.err.println("FisherJob: " + e.getMessage());
      return 2;
    }
    SparkSession spark = SparkSession.builder().appName("lethe-fisher " + model).getOrCreate();
    try {
      FisherProgress.Summary s = run(spark, o).summary();
      System.out.printf(Locale.ROOT, "fisher %s attached to %s version %d: %d samples, %d blocks,"
          + " %.1f MB, %s, %.2f s on the sidecar%n", s.fisherId(), model, s.version(), s.samples(),
          s.blocks(), s.bytes() / 1e6, s.kind(), s.buildSeconds());
      return 0;
    } catch (Exception e) {
      // A Spark job failure carries the executor's message (e.g. the sample check's field).
      System.err.println("FisherJob: " + e + " (nothing was attached)");
      return 1;
    } finally {
      spark.stop();
    }
  }

  /**
   * Runs the job in {@code spark} (the caller's session: spark-submit's, or a test's local one)
   * and returns the sidecar's last progress message.
   */
  public static FisherProgress run(SparkSession spark, JobOptions o) throws Exception {
    int[] last = {-1};
    return JobDriver.run(spark, o, p -> {
      int tenth = p.blocksTotal() == 0 ? 0 : 10 * p.blocksDone() / p.blocksTotal();
      if (tenth != last[0]) {
        last[0] = tenth;
        System.err.printf(Locale.ROOT,
            "FisherJob: %d/%d blocks (and Kronecker layer units) finished on the sidecar%n",
            p.blocksDone(), p.blocksTotal());
      }
    });
  }
}
