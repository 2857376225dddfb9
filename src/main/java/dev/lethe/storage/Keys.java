package dev.lethe.storage;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Key encoding. Composite keys are UTF-8 strings separated by 0x00 (names never contain it) and
 * big-endian numbers, so that RocksDB's byte order is the natural order.
 */
public final class Keys {
  private Keys() {}

  /** The key of a model: its name in UTF-8. */
  public static byte[] model(String name) {
    return name.getBytes(StandardCharsets.UTF_8);
  }

  /** name 0x00: the prefix of every key that belongs to one model. */
  public static byte[] modelPrefix(String name) {
    return concat(model(name), new byte[] {0});
  }

  /** name 0x00 version(8 bytes BE). */
  public static byte[] version(String name, long version) {
    return concat(modelPrefix(name), ByteBuffer.allocate(8).putLong(version).array());
  }

  /** name 0x00 part 0x00 part ...: a composite key of strings. */
  public static byte[] of(String... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < parts.length; i++) {
      if (i > 0) {
        out.write(0);
      }
      out.writeBytes(parts[i].getBytes(StandardCharsets.UTF_8));
    }
    return out.toByteArray();
  }

  public static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  /** The smallest key greater than every key that starts with {@code prefix}. */
  public static byte[] prefixEnd(byte[] prefix) {
    byte[] end = prefix.clone();
    for (int i = end.length - 1; i >= 0; i--) {
      if (end[i] != (byte) 0xFF) {
        end[i]++;
        return Arrays.copyOf(end, i + 1);
      }
    }
    throw new IllegalArgumentException("prefix of only 0xFF bytes has no end");
  }

  public static boolean startsWith(byte[] key, byte[] prefix) {
    return key.length >= prefix.length
        && Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
  }
}
