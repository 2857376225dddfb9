package dev.lethe.onnx;

import java.util.Arrays;

/** An erasable parameter: a FLOAT initializer's name and shape. */
public record ParameterSpec(String name, long[] dims) {
  public long elementCount() {
    long n = 1;
    for (long d : dims) {
      n *= d;
    }
    return n;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ParameterSpec p && p.name.equals(name) && Arrays.equals(p.dims, dims);
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(dims);
  }
}
