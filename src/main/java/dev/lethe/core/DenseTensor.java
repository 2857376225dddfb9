package dev.lethe.core;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.Arrays;

/**
 * A dense row-major tensor of float32 or int64 values, the domain form of the API's Tensor.
 * Exactly one of {@link #floats()} and {@link #longs()} is non-null. Arrays are shared, not
 * copied: callers must not modify them after construction.
 */
public record DenseTensor(long[] dims, float[] floats, long[] longs) {

  public DenseTensor {
    if (dims == null) {
      throw new IllegalArgumentException("dims must not be null");
    }
    if ((floats == null) == (longs == null)) {
      throw new IllegalArgumentException("exactly one of floats and longs must be set");
    }
  }

  public static DenseTensor ofFloats(long[] dims, float[] data) {
    return new DenseTensor(dims, data, null);
  }

  public static DenseTensor ofLongs(long[] dims, long[] data) {
    return new DenseTensor(dims, null, data);
  }

  public boolean isFloat() {
    return floats != null;
  }

  /** Number of stored values. */
  public int length() {
    return floats != null ? floats.length : longs.length;
  }

  /** Product of dims, or -1 if it overflows or a dim is negative. */
  public long elementCount() {
    long count = 1;
    for (long d : dims) {
      if (d < 0) {
        return -1;
      }
      try {
        count = Math.multiplyExact(count, d);
      } catch (ArithmeticException overflow) {
        return -1;
      }
    }
    return count;
  }

  /** Writes dims, element type and values (big-endian), as {@link #readFrom} reads them. */
  public void writeTo(DataOutput out) throws IOException {
    out.writeInt(dims.length);
    for (long d : dims) {
      out.writeLong(d);
    }
    out.writeBoolean(isFloat());
    out.writeInt(length());
    if (isFloat()) {
      for (float f : floats) {
        out.writeFloat(f);
      }
    } else {
      for (long l : longs) {
        out.writeLong(l);
      }
    }
  }

  /** Reads a tensor {@link #writeTo} wrote. */
  public static DenseTensor readFrom(DataInput in) throws IOException {
    long[] dims = new long[in.readInt()];
    for (int i = 0; i < dims.length; i++) {
      dims[i] = in.readLong();
    }
    boolean isFloat = in.readBoolean();
    int length = in.readInt();
    if (isFloat) {
      float[] v = new float[length];
      for (int i = 0; i < length; i++) {
        v[i] = in.readFloat();
      }
      return ofFloats(dims, v);
    }
    long[] v = new long[length];
    for (int i = 0; i < length; i++) {
      v[i] = in.readLong();
    }
    return ofLongs(dims, v);
  }

  /** First dimension, or -1 for a scalar. */
  public long batch() {
    return dims.length == 0 ? -1 : dims[0];
  }

  @Override
  public String toString() {
    return (isFloat() ? "float" : "int64") + Arrays.toString(dims);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DenseTensor t
        && Arrays.equals(dims, t.dims)
        && Arrays.equals(floats, t.floats)
        && Arrays.equals(longs, t.longs);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * Arrays.hashCode(dims) + Arrays.hashCode(floats)) + Arrays.hashCode(longs);
  }
}
