package dev.lethe.onnx;

import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import dev.lethe.core.DenseTensor;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Edge checks of a {@link Samples} against a {@link GradientGraph}: input names, dtypes,
 * per-sample dims, batch sizes, finite values, labels per loss. Failures are INVALID_ARGUMENT
 * naming {@code samples.inputs[name]} or {@code samples.labels}.
 */
final class SampleValidator {
  private SampleValidator() {}

  /** Validates inputs (and labels when {@code needLabels}); returns N. */
  static int validate(GradientGraph graph, Samples batch, boolean needLabels) {
    Map<String, GradientGraph.Input> expected = new HashMap<>();
    graph.inputs().forEach(i -> expected.put(i.name(), i));
    for (String name : batch.inputs().keySet()) {
      if (!expected.containsKey(name)) {
        throw LetheException.invalid("samples.inputs[" + name + "]",
            "not an input of the model; inputs are " + expected.keySet());
      }
    }
    long n = -1;
    for (GradientGraph.Input in : graph.inputs()) {
      String field = "samples.inputs[" + in.name() + "]";
      DenseTensor t = batch.inputs().get(in.name());
      if (t == null) {
        throw LetheException.invalid(field, "missing");
      }
      boolean wantFloat = in.elemType() == 1;
      if (t.isFloat() != wantFloat) {
        throw LetheException.invalid(field, "expected " + (wantFloat ? "float32" : "int64") + " values");
      }
      long[] d = t.dims();
      if (d.length != in.sampleDims().length + 1
          || !Arrays.equals(Arrays.copyOfRange(d, 1, d.length), in.sampleDims())) {
        throw LetheException.invalid(field, "dims " + Arrays.toString(d) + ", expected [N, "
            + Arrays.toString(in.sampleDims()).replaceAll("[\\[\\]]", "") + "]");
      }
      if (d[0] < 1 || (n >= 0 && d[0] != n)) {
        throw LetheException.invalid(field, "batch dimension " + d[0] + (n >= 0 ? ", other inputs have " + n : ""));
      }
      n = d[0];
      long count = t.elementCount();
      if (count < 0 || count != t.length()) {
        throw LetheException.invalid(field, "holds " + t.length() + " values, dims need " + count);
      }
      if (t.isFloat()) {
        checkFinite(field, t.floats());
      }
    }
    if (n > Integer.MAX_VALUE) {
      throw LetheException.tooLarge("samples", "too many samples: " + n);
    }
    if (needLabels) {
      checkLabels(graph, batch.labels(), n);
    }
    return (int) n;
  }

  private static void checkLabels(GradientGraph graph, DenseTensor labels, long n) {
    String field = "samples.labels";
    if (labels == null) {
      throw LetheException.invalid(field, "missing; the loss needs labels");
    }
    LossFunction loss = graph.loss();
    long c = graph.classes();
    if (labels.elementCount() != labels.length()) {
      throw LetheException.invalid(field, "holds " + labels.length() + " values, dims need " + labels.elementCount());
    }
    if (loss.hasClassLabels()) {
      if (labels.isFloat() || labels.dims().length != 1 || labels.dims()[0] != n) {
        throw LetheException.invalid(field, "expected int64 class indices [" + n + "], got " + labels);
      }
      for (int i = 0; i < labels.longs().length; i++) {
        long y = labels.longs()[i];
        if (y < 0 || y >= c) {
          throw LetheException.invalid(field, "label " + y + " of sample " + i + " is not a class in [0, " + c + ")");
        }
      }
    } else {
      if (!labels.isFloat() || labels.dims().length < 1 || labels.dims()[0] != n || labels.length() != n * c) {
        throw LetheException.invalid(field, "expected float targets [" + n + ", " + c + "], got " + labels);
      }
      checkFinite(field, labels.floats());
      if (loss == LossFunction.SIGMOID_BINARY_CROSS_ENTROPY) {
        for (float v : labels.floats()) {
          if (v < 0 || v > 1) {
            throw LetheException.invalid(field, "binary cross-entropy targets must lie in [0, 1], got " + v);
          }
        }
      }
    }
  }

  static void checkFinite(String field, float[] values) {
    for (int i = 0; i < values.length; i++) {
      if (!Float.isFinite(values[i])) {
        throw LetheException.invalid(field, "value " + values[i] + " at flat index " + i + " is not finite");
      }
    }
  }
}
