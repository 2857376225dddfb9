package dev.lethe.cli;

import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import dev.lethe.data.BatchFormat;
import dev.lethe.data.DataFiles;
import dev.lethe.data.Dataset;
import dev.lethe.onnx.InputSpec;
import dev.lethe.store.ModelState;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Turns IDX or CSV files into a batch for a registered model: its single input's name and
 * per-sample shape, labels as the loss needs them (class indices, or one-hot targets).
 */
final class SampleFiles {
  private SampleFiles() {}

  static Samples load(ModelState model, List<Path> files, float scale, int limit)
      throws IOException {
    if (model.inputs().size() != 1) {
      throw new IllegalArgumentException("model '" + model.name() + "' has "
          + model.inputs().size() + " inputs; files feed models with exactly one");
    }
    InputSpec input = model.inputs().get(0);
    Dataset dataset = DataFiles.load(files.toArray(Path[]::new));
    int n = limit > 0 ? Math.min(limit, dataset.size()) : dataset.size();
    BatchFormat format = BatchFormat.of(input.name())
        .withShape(sampleShape(input, dataset))
        .withScale(scale);
    long classes = Arrays.stream(model.outputDims()).reduce(1, (a, b) -> a * b);
    format = model.spec().loss() == LossFunction.SOFTMAX_CROSS_ENTROPY
        ? format.withClassIndices() : format.withOneHot((int) classes);
    return dataset.batch(0, n, format);
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
