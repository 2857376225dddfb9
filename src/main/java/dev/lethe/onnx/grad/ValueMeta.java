package dev.lethe.onnx.grad;

import java.util.Arrays;

/**
 * What the graph builder knows about one value: element type (ONNX DataType number), its shape
 * and whether it carries the batch. A batched value has the batch on axis 0, recorded as -1 in
 * {@code shape}; every other dimension is static. An unbatched value (a parameter, a constant or
 * anything computed only from them) has a fully static shape.
 */
public record ValueMeta(String name, int elemType, long[] shape, boolean batched) {

  public int rank() {
    return shape.length;
  }

  /** The shape of one sample's slice: shape without axis 0 when batched, else the whole shape. */
  public long[] sampleShape() {
    return batched ? Arrays.copyOfRange(shape, 1, shape.length) : shape.clone();
  }

  /** Elements per sample (of the sample shape). */
  public long sampleSize() {
    long n = 1;
    for (long d : sampleShape()) {
      n *= d;
    }
    return n;
  }

  /** Axis normalised to [0, rank). */
  public int axis(long axis) {
    int a = (int) (axis < 0 ? axis + rank() : axis);
    if (a < 0 || a >= rank()) {
      throw new IllegalArgumentException("axis " + axis + " out of range for rank " + rank());
    }
    return a;
  }

  /**
   * Axis of the gradient tensor ([N] + sample shape) matching axis {@code axis} of this value:
   * the same for a batched value, one more for an unbatched one.
   */
  public int gradAxis(long axis) {
    return batched ? axis(axis) : axis(axis) + 1;
  }

  @Override
  public String toString() {
    return name + (batched ? " batched " : " ") + Arrays.toString(shape);
  }
}
