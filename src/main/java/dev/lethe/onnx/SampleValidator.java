package dev.lethe.onnx;

import dev.lethe.core.DenseTensor;
import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import java.util.Arrays;
import java.util.List;

/**
 * The one check of a request's samples against a model, run once per request before any work:
 * every data input present with the right element type and shape, one batch size throughout,
 * finite values, ids (when given) one per row, and labels matching the loss. Everything after it
 * (gradient engines, forward sessions, Fisher rows) takes the samples as checked. Messages name
 * the field as clients see it ({@code samples.inputs[x]}, {@code samples.labels},
 * {@code samples.ids}, {@code samples}); failures are INVALID_ARGUMENT. Stateless.
 */
public final class SampleValidator {
  private SampleValidator() {}

  /**
   * Checks {@code batch} against the model's data inputs and, when {@code needLabels}, its loss
   * and per-sample logits shape; returns N.
   */
  public static int check(List<InputSpec> inputs, LossFunction loss, long[] outputDims,
      Samples batch, boolean needLabels) {
    int n = checkInputs(inputs, batch);
    if (needLabels) {
      checkLabels(loss, outputDims, n, batch.labels());
    }
    return n;
  }

  private static int checkInputs(List<InputSpec> specs, Samples batch) {
    for (String name : batch.inputs().keySet()) {
      if (specs.stream().noneMatch(s -> s.name().equals(name))) {
        throw LetheException.invalid("samples.inputs[" + name + "]",
            "the model has no such input; its inputs are " + specs);
      }
    }
    long n = -1;
    for (InputSpec spec : specs) {
      String field = "samples.inputs[" + spec.name() + "]";
      DenseTensor t = batch.inputs().get(spec.name());
      if (t == null) {
        throw LetheException.invalid(field, "missing; the model needs " + spec);
      }
      if (t.isFloat() != spec.isFloat()) {
        throw LetheException.invalid(field, "must be " + spec.elementType() + " data, got " + t);
      }
      checkShape(field, t, spec.dims());
      if (n >= 0 && t.batch() != n) {
        throw LetheException.invalid(field, "batch size " + t.batch() + " differs from " + n);
      }
      n = t.batch();
      if (t.isFloat()) {
        checkFinite(field, t.floats());
      }
    }
    if (n <= 0) {
      throw LetheException.invalid("samples", "the batch is empty");
    }
    if (n > Integer.MAX_VALUE) {
      throw LetheException.tooLarge("samples", "too many samples: " + n);
    }
    if (!batch.ids().isEmpty() && batch.ids().size() != n) {
      throw LetheException.invalid("samples.ids",
          batch.ids().size() + " ids for a batch of " + n + " samples");
    }
    return (int) n;
  }

  /**
   * Labels for the loss: int64 [N] class indices in [0, C) for softmax cross-entropy, float
   * [N, output dims...] (in [0, 1] for sigmoid cross-entropy) otherwise.
   */
  private static void checkLabels(LossFunction loss, long[] outputDims, int n, DenseTensor labels) {
    String field = "samples.labels";
    if (labels == null) {
      throw LetheException.invalid(field, "required for loss " + loss);
    }
    long classes = 1;
    for (long d : outputDims) {
      classes *= d;
    }
    if (loss.hasClassLabels()) {
      if (labels.isFloat() || labels.dims().length != 1 || labels.dims()[0] != n) {
        throw LetheException.invalid(field,
            "must be int64 class indices of shape [" + n + "] for " + loss + ", got " + labels);
      }
      checkLength(field, labels);
      for (int i = 0; i < n; i++) {
        long y = labels.longs()[i];
        if (y < 0 || y >= classes) {
          throw LetheException.invalid(field,
              "label " + y + " of sample " + i + " is not a class in [0, " + classes + ")");
        }
      }
      return;
    }
    long[] expected = new long[outputDims.length + 1];
    expected[0] = n;
    System.arraycopy(outputDims, 0, expected, 1, outputDims.length);
    if (!labels.isFloat() || labels.elementCount() != n * classes || labels.batch() != n) {
      throw LetheException.invalid(field,
          "must be float targets of shape " + Arrays.toString(expected) + " for " + loss
              + ", got " + labels);
    }
    checkLength(field, labels);
    checkFinite(field, labels.floats());
    if (loss == LossFunction.SIGMOID_BINARY_CROSS_ENTROPY) {
      for (int i = 0; i < labels.floats().length; i++) {
        float y = labels.floats()[i];
        if (y < 0 || y > 1) {
          throw LetheException.invalid(field, "target " + y + " at index " + i + " is not in [0, 1]");
        }
      }
    }
  }

  private static void checkShape(String field, DenseTensor t, long[] declared) {
    checkLength(field, t);
    if (t.dims().length != declared.length) {
      throw LetheException.invalid(field,
          "has shape " + Arrays.toString(t.dims()) + ", the model declares "
              + Arrays.toString(declared));
    }
    for (int i = 1; i < declared.length; i++) {
      if (declared[i] >= 0 && declared[i] != t.dims()[i]) {
        throw LetheException.invalid(field,
            "has shape " + Arrays.toString(t.dims()) + ", the model declares "
                + Arrays.toString(declared) + " (-1 = any)");
      }
    }
  }

  private static void checkLength(String field, DenseTensor t) {
    long count = t.elementCount();
    if (count < 0 || count != t.length()) {
      throw LetheException.invalid(field,
          "dims " + Arrays.toString(t.dims()) + " need " + count + " values, got " + t.length());
    }
  }

  /** Every value finite, else INVALID_ARGUMENT naming {@code field} and the index. */
  public static void checkFinite(String field, float[] values) {
    for (int i = 0; i < values.length; i++) {
      if (!Float.isFinite(values[i])) {
        throw LetheException.invalid(field, "value at index " + i + " is " + values[i]);
      }
    }
  }
}
