package dev.lethe.data;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.ZipException;

/**
 * Reader for IDX files (the MNIST / Fashion-MNIST format), gzipped or plain (detected from the
 * content). Layout: magic {@code 00 00 08 <ndims>} (0x08 = unsigned byte; other element types are
 * refused), ndims big-endian int32 dims, then the values row-major. Images are [N, H, W], labels
 * [N].
 *
 * <p>Errors name the file: a malformed file (bad magic, unsupported type, trailing bytes, count
 * mismatch) is an {@link IllegalArgumentException}; a file that ends early is an
 * {@link EOFException}; other read failures are {@link IOException}s. Stateless; thread-safe.
 */
public final class IdxFiles {
  private static final int UNSIGNED_BYTE = 0x08;
  private static final int MAX_DIMS = 8;

  private IdxFiles() {}

  /** The dims and values of one unsigned-byte IDX file; the arrays belong to the caller. */
  public record UnsignedBytes(int[] dims, byte[] values) {
    /** Number of items: the first dim. */
    public int count() {
      return dims[0];
    }
  }

  /**
   * Images [N, H, W] (any ndims &gt;= 2) and their labels [N] as a {@link Dataset} with sample
   * shape [H, W], unscaled values 0..255 and ids {@code <images file name>:<row>}.
   */
  public static Dataset read(Path images, Path labels) throws IOException {
    UnsignedBytes x = readUnsignedBytes(images);
    UnsignedBytes y = readUnsignedBytes(labels);
    if (x.dims().length < 2) {
      throw new IllegalArgumentException(images + ": expected an images file with at least 2 dims"
          + " [N, ...], found dims " + Arrays.toString(x.dims()));
    }
    if (y.dims().length != 1) {
      throw new IllegalArgumentException(labels + ": expected a labels file with 1 dim [N], found"
          + " dims " + Arrays.toString(y.dims()));
    }
    if (x.count() != y.count()) {
      throw new IllegalArgumentException("count mismatch: " + images + " holds " + x.count()
          + " images but " + labels + " holds " + y.count() + " labels");
    }
    int[] classes = new int[y.count()];
    for (int i = 0; i < classes.length; i++) {
      classes[i] = y.values()[i] & 0xFF;
    }
    return Dataset.ofUnsignedBytes(DataInputs.sourceName(images), x.values(),
        Arrays.copyOfRange(x.dims(), 1, x.dims().length), classes);
  }

  /** Reads one unsigned-byte IDX file, gzipped or plain. */
  public static UnsignedBytes readUnsignedBytes(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return readUnsignedBytes(in, file.toString());
    }
  }

  /**
   * Reads one unsigned-byte IDX stream (gzipped or plain) to its end; {@code source} names it in
   * messages. Does not close {@code in}.
   */
  public static UnsignedBytes readUnsignedBytes(InputStream raw, String source)
      throws IOException {
    try {
      DataInputStream in = new DataInputStream(DataInputs.decompressed(raw));
      byte[] magic = readExactly(in, 4, source, "magic number");
      if (magic[0] != 0 || magic[1] != 0) {
        throw new IllegalArgumentException(source + ": not an IDX file (magic "
            + hex(magic) + ", expected 00 00 08 <ndims>)");
      }
      if (magic[2] != UNSIGNED_BYTE) {
        throw new IllegalArgumentException(source + ": IDX element type 0x"
            + String.format("%02x", magic[2]) + " not supported (only 0x08, unsigned byte)");
      }
      int ndims = magic[3] & 0xFF;
      if (ndims < 1 || ndims > MAX_DIMS) {
        throw new IllegalArgumentException(source + ": IDX ndims " + ndims + " not in [1, "
            + MAX_DIMS + "]");
      }
      byte[] header = readExactly(in, 4 * ndims, source, "dims");
      int[] dims = new int[ndims];
      long count = 1;
      for (int k = 0; k < ndims; k++) {
        int at = 4 * k;
        dims[k] = (header[at] & 0xFF) << 24 | (header[at + 1] & 0xFF) << 16
            | (header[at + 2] & 0xFF) << 8 | (header[at + 3] & 0xFF);
        if (dims[k] < 0) {
          throw new IllegalArgumentException(source + ": negative IDX dim " + dims[k]);
        }
        count *= dims[k];
        if (count > Integer.MAX_VALUE - 8) {
          throw new IllegalArgumentException(source + ": IDX dims " + Arrays.toString(
              Arrays.copyOf(dims, k + 1)) + " hold more values than one array can");
        }
      }
      byte[] values = readExactly(in, (int) count, source, "values for dims "
          + Arrays.toString(dims));
      if (readByte(in, source) != -1) {
        throw new IllegalArgumentException(source + ": trailing bytes after the " + count
            + " values of dims " + Arrays.toString(dims));
      }
      return new UnsignedBytes(dims, values);
    } catch (ZipException e) {
      throw new IOException(source + ": corrupt gzip data: " + e.getMessage(), e);
    }
  }

  private static byte[] readExactly(InputStream in, int length, String source, String what)
      throws IOException {
    byte[] buf = new byte[length];
    int got;
    try {
      got = in.readNBytes(buf, 0, length);
    } catch (EOFException e) {
      throw DataInputs.truncatedGzip(source, e);
    }
    if (got < length) {
      throw new EOFException(source + ": truncated: expected " + length + " bytes of " + what
          + ", found " + got);
    }
    return buf;
  }

  private static int readByte(InputStream in, String source) throws IOException {
    try {
      return in.read();
    } catch (EOFException e) {
      throw DataInputs.truncatedGzip(source, e);
    }
  }

  private static String hex(byte[] bytes) {
    StringBuilder s = new StringBuilder();
    for (byte b : bytes) {
      s.append(s.length() == 0 ? "" : " ").append(String.format("%02x", b));
    }
    return s.toString();
  }
}
