package dev.lethe.cli;

import dev.lethe.core.DenseTensor;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;
import dev.lethe.data.BatchFormat;
import dev.lethe.data.CsvFiles;
import dev.lethe.data.DataFiles;
import dev.lethe.data.Dataset;
import dev.lethe.onnx.InputSpec;
import dev.lethe.store.ModelState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * IDX or CSV files as batches for one registered model: its single input's name and per-sample
 * shape, labels as its loss needs them, each raw feature x sent as x · scale + offset (the
 * spec's preprocessing unless overridden), and the rows' ids as the user gave them (never made
 * from the file name; none when not given). Batches are made on demand from the file's compact
 * storage, so a large file costs its bytes, not its floats. Not thread-safe.
 */
final class SampleData {
  private final Dataset dataset;
  private final BatchFormat format;
  private final String inputName;
  private final float offset;
  private final double scale;
  private final List<String> ids;
  private final Map<String, Integer> rowOfId;
  private final ModelConfig spec;
  private final Path file;

  private SampleData(Dataset dataset, BatchFormat format, String inputName, double scale,
      double offset, List<String> ids, ModelConfig spec, Path file) {
    this.dataset = dataset;
    this.format = format;
    this.inputName = inputName;
    this.scale = scale;
    this.offset = (float) offset;
    this.ids = ids;
    this.spec = spec;
    this.file = file;
    this.rowOfId = new HashMap<>();
    if (ids != null) {
      for (int i = 0; i < ids.size(); i++) {
        if (rowOfId.putIfAbsent(ids.get(i), i) != null) {
          throw new IllegalArgumentException("the id '" + ids.get(i) + "' is given to rows "
              + rowOfId.get(ids.get(i)) + " and " + i + "; each row needs its own id");
        }
      }
    }
  }

  static SampleData open(ModelState model, List<Path> files, Double featureScale,
      Double featureOffset, Path idsFrom, Integer idColumn) throws IOException {
    if (model.inputs().size() != 1) {
      throw new IllegalArgumentException("model '" + model.name() + "' has "
          + model.inputs().size() + " inputs; data files feed models with exactly one");
    }
    for (Path f : files) {
      if (!Files.isRegularFile(f)) {
        throw new IllegalArgumentException("--data: " + f + ": no such file");
      }
    }
    InputSpec input = model.inputs().get(0);
    Dataset dataset;
    List<String> ids = null;
    if (idColumn != null) {
      if (files.size() != 1 || !files.get(0).getFileName().toString().matches("(?i).*\\.csv(\\.gz)?")) {
        throw new IllegalArgumentException("--id-column needs one CSV file (*.csv, *.csv.gz); "
            + "for IDX files give the ids with --ids-from");
      }
      CsvFiles.WithIds read = CsvFiles.read(files.get(0), idColumn);
      dataset = read.data();
      ids = read.ids();
    } else {
      dataset = DataFiles.load(files.toArray(Path[]::new));
    }
    if (idsFrom != null) {
      ids = readIds(idsFrom, dataset.size());
    }
    ModelConfig spec = model.spec();
    double scale = featureScale != null ? featureScale
        : (spec.featureScale() != 0 ? spec.featureScale() : 1.0);
    double offset = featureOffset != null ? featureOffset : spec.featureOffset();
    if (!Double.isFinite(scale) || scale == 0 || !Double.isFinite(offset)) {
      throw new IllegalArgumentException("--feature-scale must be a finite non-zero number and "
          + "--feature-offset finite; got " + scale + " and " + offset);
    }
    BatchFormat format = BatchFormat.of(input.name()).withShape(sampleShape(input, dataset));
    long classes = Arrays.stream(model.outputDims()).reduce(1, (a, b) -> a * b);
    format = spec.loss() == LossFunction.SOFTMAX_CROSS_ENTROPY
        ? format.withClassIndices() : format.withOneHot((int) classes);
    return new SampleData(dataset, format, input.name(), scale, offset, ids, spec, files.get(0));
  }

  private static List<String> readIds(Path file, int rows) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("--ids-from: " + file + ": no such file");
    }
    List<String> ids = new ArrayList<>();
    for (String line : Files.readAllLines(file)) {
      String id = line.strip();
      if (id.isEmpty()) {
        throw new IllegalArgumentException("--ids-from: " + file + ": line " + (ids.size() + 1)
            + " is empty; give one id per data row");
      }
      ids.add(id);
    }
    if (ids.size() != rows) {
      throw new IllegalArgumentException("--ids-from: " + file + " has " + ids.size()
          + " ids but the data has " + rows + " rows; give one id per data row");
    }
    return ids;
  }

  int size() {
    return dataset.size();
  }

  boolean hasIds() {
    return ids != null;
  }

  /** The user's id of a row, or {@code #row} when none were given (for display only). */
  String label(int row) {
    return ids != null ? ids.get(row) : "#" + row;
  }

  /** The row of a user id, or -1. */
  int rowOf(String id) {
    Integer r = rowOfId.get(id);
    return r == null ? -1 : r;
  }

  /** A few of the ids, for messages. */
  String someIds() {
    return ids == null ? "(none)" : String.join(", ", ids.subList(0, Math.min(3, ids.size())))
        + (ids.size() > 3 ? ", ..." : "");
  }

  Path file() {
    return file;
  }

  double scale() {
    return scale;
  }

  double offset() {
    return offset;
  }

  /** Rows [from, to) as one batch. */
  Samples range(int from, int to) {
    Samples raw = dataset.batch(from, to, format);
    List<String> batchIds = ids == null ? List.of() : ids.subList(from, to);
    return preprocessed(raw, batchIds);
  }

  /** The given rows, in that order, as one batch. */
  Samples rows(int[] rows) {
    int d = dataset.featureCount();
    float[] x = new float[Math.multiplyExact(rows.length, d)];
    List<String> batchIds = new ArrayList<>();
    List<Samples> labels = new ArrayList<>();
    long[] dims = null;
    for (int i = 0; i < rows.length; i++) {
      Samples one = dataset.batch(rows[i], rows[i] + 1, format);
      DenseTensor t = one.inputs().get(inputName);
      System.arraycopy(t.floats(), 0, x, i * d, d);
      dims = t.dims().clone();
      labels.add(one);
      if (ids != null) {
        batchIds.add(ids.get(rows[i]));
      }
    }
    if (dims == null) {
      dims = new long[] {0, d};
    }
    dims[0] = rows.length;
    DenseTensor y = concatLabels(labels, rows.length);
    return preprocessed(new Samples(List.of(), Map.of(inputName, DenseTensor.ofFloats(dims, x)), y),
        batchIds);
  }

  private static DenseTensor concatLabels(List<Samples> parts, int n) {
    if (parts.isEmpty() || parts.get(0).labels() == null) {
      return null;
    }
    DenseTensor first = parts.get(0).labels();
    long[] dims = first.dims().clone();
    dims[0] = n;
    int width = first.length();
    if (first.isFloat()) {
      float[] out = new float[n * width];
      for (int i = 0; i < n; i++) {
        System.arraycopy(parts.get(i).labels().floats(), 0, out, i * width, width);
      }
      return DenseTensor.ofFloats(dims, out);
    }
    long[] out = new long[n * width];
    for (int i = 0; i < n; i++) {
      System.arraycopy(parts.get(i).labels().longs(), 0, out, i * width, width);
    }
    return DenseTensor.ofLongs(dims, out);
  }

  /** x · scale + offset on a batch made from raw features (a fresh copy this class owns). */
  private Samples preprocessed(Samples raw, List<String> batchIds) {
    DenseTensor t = raw.inputs().get(inputName);
    float[] x = t.floats();
    float s = (float) scale;
    for (int i = 0; i < x.length; i++) {
      x[i] = x[i] * s + offset;
    }
    return new Samples(batchIds, Map.of(inputName, t), raw.labels());
  }

  /**
   * A one-line warning when the preprocessed features of rows [from, to) lie far from the
   * range the spec declares (more than one range width outside it), or, without a declared
   * range, when raw 0..255 bytes are sent unscaled; null when nothing looks wrong.
   */
  String rangeWarning(int from, int to) {
    double lo = Double.POSITIVE_INFINITY;
    double hi = Double.NEGATIVE_INFINITY;
    int d = dataset.featureCount();
    for (int r = from; r < to; r++) {
      for (int c = 0; c < d; c++) {
        float v = dataset.feature(r, c);
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    if (lo > hi) {
      return null;
    }
    double plo = Math.min(lo * scale + offset, hi * scale + offset);
    double phi = Math.max(lo * scale + offset, hi * scale + offset);
    if (spec.hasFeatureRange()) {
      double w = spec.featureMax() - spec.featureMin();
      if (plo < spec.featureMin() - w || phi > spec.featureMax() + w) {
        return String.format(Locale.ROOT, "warning: the features sent lie in [%.4g, %.4g] "
            + "(raw [%.4g, %.4g] x %.4g + %.4g) but model '%s' was trained on [%.4g, %.4g] "
            + "(spec.feature_min/max): check --feature-scale/--feature-offset or the spec "
            + "(lethe update-spec)", plo, phi, lo, hi, scale, offset, spec.name(),
            spec.featureMin(), spec.featureMax());
      }
      return null;
    }
    if (scale == 1 && offset == 0 && hi > 1 && hi <= 255 && lo >= 0 && isIdx()) {
      return String.format(Locale.ROOT, "warning: raw IDX bytes [%.0f, %.0f] are sent unscaled "
          + "and model '%s' declares no feature range; if it was trained on [0,1], use "
          + "--feature-scale 0.00392156862745098 (or set spec.feature_scale)", lo, hi,
          spec.name());
    }
    return null;
  }

  private boolean isIdx() {
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
    return name.contains("idx") || name.contains("-ubyte");
  }

  /** The model's per-sample shape where it is fixed, else the file's flat feature count. */
  private static long[] sampleShape(InputSpec input, Dataset dataset) {
    long[] dims = Arrays.copyOfRange(input.dims(), 1, input.dims().length);
    long known = 1;
    int unknown = -1;
    for (int i = 0; i < dims.length; i++) {
      if (dims[i] < 0) {
        if (unknown >= 0) {
          return new long[] {dataset.featureCount()};
        }
        unknown = i;
      } else {
        known *= dims[i];
      }
    }
    if (unknown >= 0) {
      dims[unknown] = dataset.featureCount() / known;
    }
    return dims;
  }
}
