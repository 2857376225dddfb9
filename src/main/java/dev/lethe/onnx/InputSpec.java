package dev.lethe.onnx;

import java.util.Arrays;

/**
 * A data input of a model's graph (a graph input that is not an initializer).
 *
 * @param name the graph input name
 * @param isFloat float32 when true, else int64
 * @param dims declared shape; -1 for a symbolic or unknown dimension. dims[0] is the batch.
 */
public record InputSpec(String name, boolean isFloat, long[] dims) {
  public String elementType() {
    return isFloat ? "float" : "int64";
  }

  /** True when the export fixed the batch dimension to 1. */
  public boolean batchFixedToOne() {
    return dims.length > 0 && dims[0] == 1;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof InputSpec s && s.name.equals(name) && s.isFloat == isFloat
        && Arrays.equals(s.dims, dims);
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(dims);
  }

  @Override
  public String toString() {
    return name + ":" + elementType() + Arrays.toString(dims);
  }
}
