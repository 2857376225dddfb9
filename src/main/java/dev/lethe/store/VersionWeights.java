package dev.lethe.store;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * One version's erasable parameters: float32 little-endian in spec order, in one direct buffer
 * that ONNX Runtime reads without copying. Immutable: nobody writes the buffer after creation,
 * readers use duplicates or absolute reads.
 */
public final class VersionWeights {
  private final long version;
  private final ByteBuffer bytes;
  private final List<FloatBuffer> parameters;

  VersionWeights(long version, byte[] data, long[] parameterOffsets) {
    this(version, ByteBuffer.allocateDirect(data.length).order(ByteOrder.LITTLE_ENDIAN).put(data)
        .flip(), parameterOffsets);
  }

  /**
   * Weights over {@code direct} (P float32 little-endian from position 0, direct) without a
   * copy: the caller hands the buffer over and never writes it again.
   */
  static VersionWeights wrap(long version, ByteBuffer direct, long[] parameterOffsets) {
    long bytes = parameterOffsets[parameterOffsets.length - 1];
    if (!direct.isDirect() || direct.position() != 0 || direct.limit() != bytes) {
      throw new IllegalArgumentException("weights of " + bytes + " bytes in a direct buffer from"
          + " position 0 expected, got " + direct);
    }
    return new VersionWeights(version, direct, parameterOffsets);
  }

  /** {@code values} as P float32 little-endian in a new direct buffer ({@link #wrap}'s input). */
  public static ByteBuffer directBytes(float[] values) {
    ByteBuffer direct = ByteBuffer.allocateDirect(values.length * Float.BYTES)
        .order(ByteOrder.LITTLE_ENDIAN);
    direct.asFloatBuffer().put(values);
    return direct;
  }

  private VersionWeights(long version, ByteBuffer direct, long[] parameterOffsets) {
    this.version = version;
    this.bytes = direct.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    List<FloatBuffer> params = new ArrayList<>();
    for (int p = 0; p + 1 < parameterOffsets.length; p++) {
      ByteBuffer slice = direct.duplicate().order(ByteOrder.LITTLE_ENDIAN)
          .position((int) parameterOffsets[p]).limit((int) parameterOffsets[p + 1]).slice()
          .order(ByteOrder.LITTLE_ENDIAN);
      params.add(slice.asFloatBuffer());
    }
    this.parameters = List.copyOf(params);
  }

  /** Weights from floats (spec order), copied once, into the direct buffer. */
  public static VersionWeights of(long version, float[] values, long[] parameterOffsets) {
    return new VersionWeights(version, directBytes(values), parameterOffsets);
  }

  /** Little-endian float32 bytes of {@code values}. */
  public static byte[] bytesOf(float[] values) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(values.length * Float.BYTES)
        .order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    return b.array();
  }

  public long version() {
    return version;
  }

  /** Read-only view of all bytes. */
  public ByteBuffer bytes() {
    return bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
  }

  /** One direct float buffer per parameter, spec order. Callers must not write to them. */
  public List<FloatBuffer> parameters() {
    List<FloatBuffer> copies = new ArrayList<>(parameters.size());
    for (FloatBuffer f : parameters) {
      copies.add(f.duplicate());
    }
    return copies;
  }

  /** All parameters as one float array (spec order), a copy. */
  public float[] toArray() {
    float[] out = new float[bytes.capacity() / Float.BYTES];
    bytes().asFloatBuffer().get(out);
    return out;
  }
}
