package dev.lethe.store;

import dev.lethe.core.ModelFormat;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * How {@link ExportDirectory} lays out one model's versions for Triton, by the model's format:
 *
 * <ul>
 *   <li>{@link ModelFormat#ONNX}: {@code <version>/model.onnx} and a {@code config.pbtxt} with
 *       {@code platform: "onnxruntime_onnx"} and no tensors (Triton reads them from the ONNX
 *       file).
 *   <li>{@link ModelFormat#TORCHSCRIPT}: {@code <version>/model.pt} and a {@code config.pbtxt}
 *       with {@code platform: "pytorch_libtorch"}, {@code max_batch_size: 0} and every input and
 *       output declared, as Triton's libtorch backend needs (it cannot read them from the file):
 *       named by position ({@code INPUT__0}, {@code INPUT__1}, … in the order of the module's
 *       {@code forward} arguments; {@code OUTPUT__0}, … in the order of its outputs) with their
 *       Triton data type and full dims, the batch dimension included as {@code -1}.
 * </ul>
 *
 * <p>Immutable; arrays are copied.
 */
final class ExportLayout {
  /** One tensor of the Triton signature: float32 or int64, dims with the batch first (-1: any). */
  record Tensor(boolean isFloat, long[] dims) {
    Tensor {
      dims = dims.clone();
    }

    @Override
    public long[] dims() {
      return dims.clone();
    }

    /** A model input as the store records it ({@code dims[0]} is the batch). */
    static Tensor of(dev.lethe.onnx.InputSpec input) {
      return new Tensor(input.isFloat(), input.dims());
    }

    String tritonType() {
      return isFloat ? "TYPE_FP32" : "TYPE_INT64";
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Tensor t && t.isFloat == isFloat && Arrays.equals(t.dims, dims);
    }

    @Override
    public int hashCode() {
      return Boolean.hashCode(isFloat) * 31 + Arrays.hashCode(dims);
    }
  }

  private static final ExportLayout ONNX = new ExportLayout(ModelFormat.ONNX, List.of(), List.of());
  private final ModelFormat format;
  private final List<Tensor> inputs;
  private final List<Tensor> outputs;

  private ExportLayout(ModelFormat format, List<Tensor> inputs, List<Tensor> outputs) {
    this.format = format;
    this.inputs = List.copyOf(inputs);
    this.outputs = List.copyOf(outputs);
  }

  /** The ONNX layout (the file declares its own tensors). */
  static ExportLayout onnx() {
    return ONNX;
  }

  /**
   * The libtorch layout of a TorchScript module with {@code inputs} (forward's arguments, in
   * order) and {@code outputs} (its outputs, in order); each dims array starts with the batch.
   *
   * @throws IllegalArgumentException without inputs or outputs, or with a tensor without dims
   */
  static ExportLayout torchScript(List<Tensor> inputs, List<Tensor> outputs) {
    if (inputs.isEmpty() || outputs.isEmpty()) {
      throw new IllegalArgumentException("a libtorch model needs at least one input and one output");
    }
    for (Tensor t : concat(inputs, outputs)) {
      if (t.dims().length == 0) {
        throw new IllegalArgumentException("a Triton tensor needs at least the batch dimension");
      }
    }
    return new ExportLayout(ModelFormat.TORCHSCRIPT, inputs, outputs);
  }

  ModelFormat format() {
    return format;
  }

  /** The version file's name inside {@code <model>/<version>/}. */
  String fileName() {
    return format == ModelFormat.TORCHSCRIPT ? "model.pt" : "model.onnx";
  }

  String platform() {
    return format == ModelFormat.TORCHSCRIPT ? "pytorch_libtorch" : "onnxruntime_onnx";
  }

  List<Tensor> inputs() {
    return inputs;
  }

  List<Tensor> outputs() {
    return outputs;
  }

  /** Triton's {@code config.pbtxt} naming {@code active} as the one version to serve. */
  String config(String model, long active) {
    StringBuilder s = new StringBuilder()
        .append("# Written by Lethe: the active version of this model.\n")
        .append("name: \"").append(model).append("\"\n")
        .append("platform: \"").append(platform()).append("\"\n");
    if (format == ModelFormat.TORCHSCRIPT) {
      // the batch is the first of the declared dims, not Triton's implicit one
      s.append("max_batch_size: 0\n");
      tensors(s, "input", "INPUT__", inputs);
      tensors(s, "output", "OUTPUT__", outputs);
    }
    return s.append("version_policy: { specific: { versions: [ ").append(active).append(" ] } }\n").toString();
  }

  private static void tensors(StringBuilder s, String field, String prefix, List<Tensor> ts) {
    s.append(field).append(" [\n");
    for (int i = 0; i < ts.size(); i++) {
      Tensor t = ts.get(i);
      StringBuilder dims = new StringBuilder();
      for (long d : t.dims()) {
        dims.append(dims.length() == 0 ? "" : ", ").append(d < 0 ? -1 : d);
      }
      s.append("  {\n")
          .append("    name: \"").append(prefix).append(i).append("\"\n")
          .append("    data_type: ").append(t.tritonType()).append("\n")
          .append("    dims: [ ").append(dims).append(" ]\n")
          .append(i + 1 < ts.size() ? "  },\n" : "  }\n");
    }
    s.append("]\n");
  }

  private static List<Tensor> concat(List<Tensor> a, List<Tensor> b) {
    List<Tensor> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }
}
