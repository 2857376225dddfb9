package dev.lethe.spark;

import dev.lethe.fisher.CurvatureKind;
import java.util.List;
import java.util.Map;

/**
 * What a {@link FisherJob} run does (the command line's options, for the driver).
 *
 * @param sidecar where the model is fetched and the sums are sent
 * @param model the model's name
 * @param version the version whose weights the rows are taken at (0 = the active one, resolved
 *     once by the driver)
 * @param data the data path(s): a Parquet file or directory (any Hadoop filesystem Spark reads),
 *     or an IDX images file (and its labels file) or a CSV file readable at the same path on
 *     every executor
 * @param format "parquet", "idx" or "csv"; null = from the first path's name
 * @param featureScale float features are sent as x · scale + offset; null = the spec's
 * @param featureOffset null = the spec's
 * @param kind the rows' kind (TRUE, EMPIRICAL or MONTE_CARLO)
 * @param structure "block_diagonal", "kfac", "ekfac" or "auto" (BuildPlan's rule)
 * @param blockSize B (0 = the spec's)
 * @param draws MONTE_CARLO labels per sample (0 = 1)
 * @param seed MONTE_CARLO seed
 * @param partitions partitions of the data (0 = as read / Spark's default parallelism)
 * @param featuresColumn Parquet: the array column of a one-input model's features, used when no
 *     column is named like the input
 * @param labelColumn Parquet: the label column (absent from the data: no labels, TRUE only)
 * @param inputColumns Parquet: input name → column, overriding the defaults
 * @param groupBytes most bytes of Grams one task holds: blocks beyond it go to further stages
 *     over the (cached) data
 * @param batchSamples samples turned into rows at a time on an executor
 * @param storageBudgetBytes AUTO: the block-diagonal Fisher's stored bytes beyond which EKFAC
 *     runs (the sidecar's {@code --fisher-storage-budget-bytes}; default 4 GiB)
 */
public record JobOptions(Sidecar sidecar, String model, long version, List<String> data,
    String format, Double featureScale, Double featureOffset, CurvatureKind kind,
    String structure, int blockSize, int draws, long seed, int partitions, String featuresColumn,
    String labelColumn, Map<String, String> inputColumns, long groupBytes, int batchSamples,
    long storageBudgetBytes) {

  /** TRUE, block-diagonal, the spec's block size and preprocessing, 256 MiB of Grams per task. */
  public static JobOptions of(Sidecar sidecar, String model, List<String> data) {
    return new JobOptions(sidecar, model, 0, data, null, null, null, CurvatureKind.TRUE,
        "block_diagonal", 0, 0, 0, 0, "features", "label", Map.of(), 256L << 20, 256,
        dev.lethe.fisher.Fishers.DEFAULT_STORAGE_BUDGET);
  }

  public JobOptions withKind(CurvatureKind k, int d, long s) {
    return new JobOptions(sidecar, model, version, data, format, featureScale, featureOffset, k,
        structure, blockSize, d, s, partitions, featuresColumn, labelColumn, inputColumns,
        groupBytes, batchSamples, storageBudgetBytes);
  }

  public JobOptions withBlocks(int size, long bytesPerTask) {
    return new JobOptions(sidecar, model, version, data, format, featureScale, featureOffset, kind,
        structure, size, draws, seed, partitions, featuresColumn, labelColumn, inputColumns,
        bytesPerTask, batchSamples, storageBudgetBytes);
  }

  public JobOptions withPartitions(int p) {
    return new JobOptions(sidecar, model, version, data, format, featureScale, featureOffset, kind,
        structure, blockSize, draws, seed, p, featuresColumn, labelColumn, inputColumns,
        groupBytes, batchSamples, storageBudgetBytes);
  }

  public JobOptions withFeatureScale(Double scale) {
    return new JobOptions(sidecar, model, version, data, format, scale, featureOffset, kind,
        structure, blockSize, draws, seed, partitions, featuresColumn, labelColumn, inputColumns,
        groupBytes, batchSamples, storageBudgetBytes);
  }

  public JobOptions withStructure(String s) {
    return new JobOptions(sidecar, model, version, data, format, featureScale, featureOffset, kind,
        s, blockSize, draws, seed, partitions, featuresColumn, labelColumn, inputColumns,
        groupBytes, batchSamples, storageBudgetBytes);
  }

  public JobOptions withStorageBudget(long bytes) {
    return new JobOptions(sidecar, model, version, data, format, featureScale, featureOffset, kind,
        structure, blockSize, draws, seed, partitions, featuresColumn, labelColumn, inputColumns,
        groupBytes, batchSamples, bytes);
  }

  /** The format named, or the one the first path's name says. */
  String resolvedFormat() {
    if (format != null) {
      return format.toLowerCase(java.util.Locale.ROOT);
    }
    String name = data.get(0).toLowerCase(java.util.Locale.ROOT);
    if (name.endsWith(".csv") || name.endsWith(".csv.gz")) {
      return "csv";
    }
    if (name.contains("idx") || name.contains("-ubyte")) {
      return "idx";
    }
    return "parquet";
  }
}
