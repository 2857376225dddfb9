package dev.lethe.spark;

import dev.lethe.core.DenseTensor;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;

/**
 * Parquet rows as batches: each model input from its own column (a numeric array, flattened
 * row-major to the input's per-sample shape; or a scalar for a one-entry input), and the label
 * from the label column — a class index (int or long) for softmax cross-entropy, or for the other
 * losses an array of C targets or a class index made one-hot. Float inputs are sent as
 * x · scale + offset (the spec's preprocessing unless the job overrides it); int64 inputs as given.
 *
 * @param columns the column index in the row of each input (by input name)
 * @param sampleDims each input's per-sample dims (fixed: resolved against the data by the driver)
 * @param floats whether each input is float (else int64)
 * @param label the label column's index, or -1 when the rows carry no label (TRUE needs none)
 */
public record ParquetBatches(Map<String, Integer> columns, Map<String, long[]> sampleDims,
    Map<String, Boolean> floats, int label, LossFunction loss, int classes, double scale,
    double offset) implements BatchMaker<Row> {

  @Override
  public Samples batch(List<Row> rows) {
    int n = rows.size();
    Map<String, DenseTensor> inputs = new HashMap<>();
    for (Map.Entry<String, Integer> e : columns.entrySet()) {
      String name = e.getKey();
      long[] per = sampleDims.get(name);
      long size = 1;
      for (long d : per) {
        size *= d;
      }
      int width = Math.toIntExact(size);
      long[] dims = new long[per.length + 1];
      dims[0] = n;
      System.arraycopy(per, 0, dims, 1, per.length);
      boolean isFloat = floats.get(name);
      float[] f = isFloat ? new float[n * width] : null;
      long[] l = isFloat ? null : new long[n * width];
      for (int r = 0; r < n; r++) {
        Row row = rows.get(r);
        int c = e.getValue();
        if (row.isNullAt(c)) {
          throw new IllegalArgumentException("column " + row.schema().fields()[c].name()
              + " is null in a row; every row needs every input");
        }
        Object v = row.get(c);
        List<?> values = v instanceof scala.collection.Seq<?> s
            ? scala.jdk.javaapi.CollectionConverters.asJava(s) : v instanceof List<?> list ? list
            : List.of(v);
        if (values.size() != width) {
          throw new IllegalArgumentException("column " + row.schema().fields()[c].name() + " has "
              + values.size() + " values in a row; input " + name + " takes " + width
              + " per sample");
        }
        for (int j = 0; j < width; j++) {
          Number x = (Number) values.get(j);
          if (isFloat) {
            f[r * width + j] = (float) (x.floatValue() * (float) scale + (float) offset);
          } else {
            l[r * width + j] = x.longValue();
          }
        }
      }
      inputs.put(name, isFloat ? DenseTensor.ofFloats(dims, f) : DenseTensor.ofLongs(dims, l));
    }
    return new Samples(List.of(), inputs, label < 0 ? null : labels(rows));
  }

  private DenseTensor labels(List<Row> rows) {
    int n = rows.size();
    if (loss == LossFunction.SOFTMAX_CROSS_ENTROPY) {
      long[] y = new long[n];
      for (int r = 0; r < n; r++) {
        y[r] = ((Number) rows.get(r).get(label)).longValue();
      }
      return DenseTensor.ofLongs(new long[] {n}, y);
    }
    float[] y = new float[n * classes];
    for (int r = 0; r < n; r++) {
      Object v = rows.get(r).get(label);
      if (v instanceof Number k) {
        int c = k.intValue();
        if (c < 0 || c >= classes) {
          throw new IllegalArgumentException("label " + c + " is not a class in [0, " + classes + ")");
        }
        y[r * classes + c] = 1f;
      } else {
        List<?> values = v instanceof scala.collection.Seq<?> s
            ? scala.jdk.javaapi.CollectionConverters.asJava(s) : (List<?>) v;
        if (values.size() != classes) {
          throw new IllegalArgumentException("a label array has " + values.size()
              + " targets; the model has " + classes + " outputs");
        }
        for (int j = 0; j < classes; j++) {
          y[r * classes + j] = ((Number) values.get(j)).floatValue();
        }
      }
    }
    return DenseTensor.ofFloats(new long[] {n, classes}, y);
  }
}
