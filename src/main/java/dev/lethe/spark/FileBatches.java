package dev.lethe.spark;

import dev.lethe.core.DenseTensor;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import dev.lethe.data.BatchFormat;
import dev.lethe.data.DataFiles;
import dev.lethe.data.Dataset;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * IDX or CSV files as the CLI reads them ({@link DataFiles}: CSV features then the label; IDX
 * images with their labels file), for a one-input model: a partition's elements are row
 * numbers, each consecutive run made one batch. Every executor reads the file(s) at the same
 * path (a shared filesystem), once per JVM; the file's compact storage is kept, not its floats.
 * Features are sent as x · scale + offset, labels as class indices (softmax) or one-hot.
 *
 * @param files the data file(s), as for {@code lethe build-fisher --data}
 * @param input the model's input name
 * @param sampleDims its per-sample dims
 */
public record FileBatches(List<String> files, String input, long[] sampleDims, LossFunction loss,
    int classes, double scale, double offset) implements BatchMaker<Integer> {
  private static final Map<List<String>, Dataset> LOADED = new ConcurrentHashMap<>();

  /** The file(s)' dataset, read once per JVM. */
  public static Dataset load(List<String> files) {
    return LOADED.computeIfAbsent(List.copyOf(files), f -> {
      try {
        return DataFiles.load(f.stream().map(Path::of).toArray(Path[]::new));
      } catch (IOException e) {
        throw new UncheckedIOException("reading " + f, e);
      }
    });
  }

  @Override
  public Samples batch(List<Integer> rows) {
    Dataset data = load(files);
    BatchFormat format = BatchFormat.of(input).withShape(sampleDims);
    format = loss == LossFunction.SOFTMAX_CROSS_ENTROPY ? format.withClassIndices()
        : format.withOneHot(classes);
    int from = rows.get(0);
    for (int i = 1; i < rows.size(); i++) {
      if (rows.get(i) != from + i) {
        throw new IllegalStateException("a partition's row numbers must be consecutive");
      }
    }
    Samples raw = data.batch(from, from + rows.size(), format);
    DenseTensor t = raw.inputs().get(input);
    float[] x = t.floats();
    float s = (float) scale;
    float o = (float) offset;
    for (int i = 0; i < x.length; i++) {
      x[i] = x[i] * s + o;
    }
    return new Samples(List.of(), Map.of(input, t), raw.labels());
  }
}
