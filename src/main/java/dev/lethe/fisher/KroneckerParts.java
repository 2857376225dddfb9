package dev.lethe.fisher;

import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.StorageException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The stored form of a Kronecker layer's parts ({@link Kronecker}): key {@code prefix 'k'
 * layer(4 bytes BE) part}, value float32 little-endian with a CRC32C trailer (4 bytes LE);
 * {@link Kronecker#A} and {@link Kronecker#G} as packed upper triangles. Stateless.
 */
final class KroneckerParts {
  private KroneckerParts() {}

  /**
   * The value of part {@code part} of {@code l}: square parts row-major, {@code values} the full
   * matrix for the packed ones (its upper triangle stored).
   */
  static byte[] encode(KroneckerLayer l, byte part, double[] values) {
    long count = Kronecker.floats(l, part);
    byte[] value = new byte[Math.toIntExact(count * Float.BYTES + Integer.BYTES)];
    ByteBuffer out = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
    if (part == Kronecker.A || part == Kronecker.G) {
      int b = part == Kronecker.A ? l.columns() : l.out();
      for (int i = 0; i < b; i++) {
        for (int j = i; j < b; j++) {
          out.putFloat((float) values[i * b + j]);
        }
      }
    } else {
      if (values.length < count) {
        throw new IllegalArgumentException("part " + (char) part + ": "
            + values.length + " values, expected " + count);
      }
      for (int i = 0; i < count; i++) {
        out.putFloat((float) values[i]);
      }
    }
    return sealed(value, out);
  }

  /** The value of an unpacked part (every part but {@link Kronecker#A}, {@link Kronecker#G}). */
  static byte[] encode(KroneckerLayer l, byte part, float[] values) {
    if (part == Kronecker.A || part == Kronecker.G) {
      throw new IllegalArgumentException("part " + (char) part + " is packed: encode it in double");
    }
    long count = Kronecker.floats(l, part);
    if (values.length != count) {
      throw new IllegalArgumentException("part " + (char) part + ": "
          + values.length + " values, expected " + count);
    }
    byte[] value = new byte[Math.toIntExact(count * Float.BYTES + Integer.BYTES)];
    ByteBuffer out = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
    out.asFloatBuffer().put(values);
    out.position(value.length - Integer.BYTES);
    return sealed(value, out);
  }

  private static byte[] sealed(byte[] value, ByteBuffer out) {
    CRC32C c = new CRC32C();
    c.update(value, 0, value.length - Integer.BYTES);
    out.putInt(value.length - Integer.BYTES, (int) c.getValue());
    return value;
  }

  static byte[] key(byte[] prefix, int layer, byte part) {
    return Keys.concat(prefix, ByteBuffer.allocate(6).put((byte) 'k').putInt(layer).put(part).array());
  }

  /**
   * Reads part {@code part} of Kronecker layer {@code layer} of the Fisher under {@code prefix}
   * in double: square parts row-major, packed ones ({@link Kronecker#A}, {@link Kronecker#G}) unpacked into the full
   * symmetric matrix; the CRC32C checked.
   *
   * @throws StorageException naming model, Fisher, layer and part when missing or corrupt
   */
  static double[] read(LetheDb db, byte[] prefix, String fisher, FisherHeader h, int layer,
      byte part) {
    KroneckerLayer l = h.kronecker().layers().get(layer);
    long count = Kronecker.floats(l, part);
    float[] f = verified(db, prefix, fisher, h, layer, part);
    if (part == Kronecker.A || part == Kronecker.G) {
      int b = part == Kronecker.A ? l.columns() : l.out();
      double[] out = new double[b * b];
      int pos = 0;
      for (int i = 0; i < b; i++) {
        for (int j = i; j < b; j++) {
          double x = f[pos++];
          out[i * b + j] = x;
          out[j * b + i] = x;
        }
      }
      return out;
    }
    double[] out = new double[(int) count];
    for (int i = 0; i < out.length; i++) {
      out[i] = f[i];
    }
    return out;
  }

  /**
   * Reads an unpacked part in float32 as stored (one bulk copy; no double conversion): what a
   * large layer's solve multiplies with ({@link KroneckerLargeSolve}).
   *
   * @throws StorageException naming model, Fisher, layer and part when missing or corrupt
   */
  static float[] readFloats(LetheDb db, byte[] prefix, String fisher, FisherHeader h, int layer,
      byte part) {
    if (part == Kronecker.A || part == Kronecker.G) {
      throw new IllegalArgumentException("part " + (char) part + " is packed: read it in double");
    }
    return verified(db, prefix, fisher, h, layer, part);
  }

  /**
   * The part's stored floats, its length and CRC32C checked. Read into a direct buffer (freed
   * here), bypassing RocksDB's block cache and its own value checksum as Fisher blocks are: a
   * large layer's parts are read on every erase (190 MB for a 2048 × 4097 layer and a
   * 4096 × 785 one), and the byte[] path ran at about 0.55 GB/s.
   */
  private static float[] verified(LetheDb db, byte[] prefix, String fisher, FisherHeader h,
      int layer, byte part) {
    KroneckerLayer l = h.kronecker().layers().get(layer);
    long count = Kronecker.floats(l, part);
    String where = fisher + ": layer " + layer + " part " + (char) part;
    byte[] k = key(prefix, layer, part);
    ByteBuffer key = ByteBuffer.allocateDirect(k.length).put(k).flip();
    ByteBuffer value = ByteBuffer.allocateDirect(Math.toIntExact(count * Float.BYTES + Integer.BYTES));
    try {
      int size = db.get(Family.FISHER, key, value);
      if (size < 0) {
        throw new StorageException(where + " is missing");
      }
      if (size != value.capacity()) {
        throw new StorageException(where + " is corrupt: " + size + " bytes");
      }
      value.position(0).limit(size).order(ByteOrder.LITTLE_ENDIAN);
      CRC32C crc = new CRC32C();
      crc.update(value.duplicate().limit(size - Integer.BYTES));
      if ((int) crc.getValue() != value.getInt(size - Integer.BYTES)) {
        throw new StorageException(where + " is corrupt: checksum mismatch");
      }
      float[] out = new float[(int) count];
      value.limit(size - Integer.BYTES).asFloatBuffer().get(out);
      return out;
    } finally {
      dev.lethe.core.Memory.free(key);
      dev.lethe.core.Memory.free(value);
    }
  }
}
