package dev.lethe.spark;

import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.data.Dataset;
import dev.lethe.onnx.InputSpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;

/**
 * The job's data as a distributed collection of elements and how a batch is made of them
 * ({@link BatchMaker}): Parquet rows read by Spark, or the row numbers of an IDX/CSV file that
 * every executor reads. Nothing here reads the samples on the driver, except one Parquet row
 * when an input's per-sample shape has a dimension the model leaves open.
 *
 * @param <T> the element
 * @param rdd the elements, in the stream order that MONTE_CARLO positions follow
 * @param labelled whether the samples carry labels (EMPIRICAL needs them; they also give the
 *     convergence check)
 */
record JobData<T>(JavaRDD<T> rdd, BatchMaker<T> maker, boolean labelled) {

  static JobData<?> open(SparkSession spark, JobOptions o, ExecutorModel model) {
    ModelConfig spec = model.state().spec();
    double scale = o.featureScale() != null ? o.featureScale()
        : (spec.featureScale() != 0 ? spec.featureScale() : 1.0);
    double offset = o.featureOffset() != null ? o.featureOffset() : spec.featureOffset();
    if (!Double.isFinite(scale) || scale == 0 || !Double.isFinite(offset)) {
      throw new IllegalArgumentException("--feature-scale must be a finite non-zero number and "
          + "--feature-offset finite; got " + scale + " and " + offset);
    }
    String format = o.resolvedFormat();
    return switch (format) {
      case "parquet" -> parquet(spark, o, model, scale, offset);
      case "idx", "csv" -> files(spark, o, model, scale, offset);
      default -> throw new IllegalArgumentException("--format: '" + format
          + "' is not parquet, idx or csv");
    };
  }

  private static JobData<Row> parquet(SparkSession spark, JobOptions o, ExecutorModel model,
      double scale, double offset) {
    org.apache.spark.sql.Dataset<Row> df = spark.read().parquet(o.data().toArray(String[]::new));
    StructType schema = df.schema();
    List<String> names = Arrays.asList(schema.fieldNames());
    Map<String, Integer> columns = new HashMap<>();
    Map<String, long[]> dims = new HashMap<>();
    Map<String, Boolean> floats = new HashMap<>();
    List<InputSpec> inputs = model.inputs();
    for (InputSpec in : inputs) {
      String column = o.inputColumns().getOrDefault(in.name(),
          names.contains(in.name()) || inputs.size() > 1 ? in.name() : o.featuresColumn());
      if (!names.contains(column)) {
        throw new IllegalArgumentException("--data: the Parquet data has no column '" + column
            + "' for input " + in.name() + " (columns: " + names + "; name one with --input "
            + in.name() + "=COLUMN or --features-column)");
      }
      columns.put(in.name(), names.indexOf(column));
      floats.put(in.name(), in.isFloat());
      long[] per = Arrays.copyOfRange(in.dims(), 1, in.dims().length);
      if (Arrays.stream(per).anyMatch(d -> d < 0)) {
        Row first = df.select(column).first();
        Object v = first.get(0);
        int width = v instanceof scala.collection.Seq<?> s ? s.size() : 1;
        per = resolve(per, width, in.name());
      }
      dims.put(in.name(), per);
    }
    int label = names.indexOf(o.labelColumn());
    JavaRDD<Row> rdd = df.javaRDD();
    if (o.partitions() > 0) {
      rdd = rdd.repartition(o.partitions());
    }
    return new JobData<>(rdd, new ParquetBatches(columns, dims, floats, label, model.loss(),
        model.classes(), scale, offset), label >= 0);
  }

  private static JobData<Integer> files(SparkSession spark, JobOptions o, ExecutorModel model,
      double scale, double offset) {
    if (model.inputs().size() != 1) {
      throw new IllegalArgumentException("model '" + o.model() + "' has " + model.inputs().size()
          + " inputs; IDX and CSV files feed models with exactly one (use Parquet)");
    }
    InputSpec in = model.inputs().get(0);
    // The driver reads the file once for its size and shape; the executors read it again.
    Dataset data = FileBatches.load(o.data());
    long[] per = Arrays.copyOfRange(in.dims(), 1, in.dims().length);
    if (Arrays.stream(per).anyMatch(d -> d < 0)) {
      per = resolve(per, data.featureCount(), in.name());
    }
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    List<Integer> rows = new ArrayList<>(IntStream.range(0, data.size()).boxed().toList());
    int parts = o.partitions() > 0 ? o.partitions() : jsc.defaultParallelism();
    LossFunction loss = model.loss();
    return new JobData<>(jsc.parallelize(rows, parts), new FileBatches(o.data(), in.name(), per,
        loss, model.classes(), scale, offset), true);
  }

  /** Fills the one open dimension of {@code per} so the sample has {@code width} entries. */
  private static long[] resolve(long[] per, long width, String input) {
    long known = 1;
    int open = -1;
    for (int i = 0; i < per.length; i++) {
      if (per[i] < 0) {
        if (open >= 0) {
          return new long[] {width};
        }
        open = i;
      } else {
        known *= per[i];
      }
    }
    if (width % known != 0) {
      throw new IllegalArgumentException("input " + input + ": " + width + " values per sample do"
          + " not fill its shape " + Arrays.toString(per));
    }
    long[] out = per.clone();
    out[open] = width / known;
    return out;
  }
}
