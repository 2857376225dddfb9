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
    CRC32C c = new CRC32C();
    c.update(value, 0, value.length - Integer.BYTES);
    out.putInt((int) c.getValue());
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
    String where = fisher + ": layer " + layer + " part " + (char) part;
    byte[] v = db.get(Family.FISHER, key(prefix, layer, part));
    if (v == null) {
      throw new StorageException(where + " is missing");
    }
    if (v.length != count * Float.BYTES + Integer.BYTES) {
      throw new StorageException(where + " is corrupt: " + v.length + " bytes");
    }
    CRC32C crc = new CRC32C();
    crc.update(v, 0, v.length - Integer.BYTES);
    ByteBuffer in = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
    if ((int) crc.getValue() != in.getInt(v.length - Integer.BYTES)) {
      throw new StorageException(where + " is corrupt: checksum mismatch");
    }
    java.nio.FloatBuffer f = in.asFloatBuffer();
    if (part == Kronecker.A || part == Kronecker.G) {
      int b = part == Kronecker.A ? l.columns() : l.out();
      double[] out = new double[b * b];
      int pos = 0;
      for (int i = 0; i < b; i++) {
        for (int j = i; j < b; j++) {
          double x = f.get(pos++);
          out[i * b + j] = x;
          out[j * b + i] = x;
        }
      }
      return out;
    }
    double[] out = new double[(int) count];
    for (int i = 0; i < out.length; i++) {
      out[i] = f.get(i);
    }
    return out;
  }
}
