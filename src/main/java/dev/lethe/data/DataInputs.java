package dev.lethe.data;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Opens data files, gunzipping transparently when the content starts with the gzip magic bytes
 * (1f 8b); the file name plays no part.
 */
final class DataInputs {
  private static final int BUFFER = 1 << 16;
  private static final int GZIP_MAGIC_0 = 0x1f;
  private static final int GZIP_MAGIC_1 = 0x8b;

  private DataInputs() {}

  /** Wraps {@code in} (which the returned stream then owns) and gunzips it if it is gzip data. */
  static InputStream decompressed(InputStream in) throws IOException {
    BufferedInputStream buffered = new BufferedInputStream(in, BUFFER);
    buffered.mark(2);
    int b0 = buffered.read();
    int b1 = buffered.read();
    buffered.reset();
    if (b0 == GZIP_MAGIC_0 && b1 == GZIP_MAGIC_1) {
      return new BufferedInputStream(new GZIPInputStream(buffered, BUFFER), BUFFER);
    }
    return buffered;
  }

  /** GZIPInputStream reports a cut-off stream as an EOFException that does not name the file. */
  static EOFException truncatedGzip(String source, EOFException e) {
    EOFException named = new EOFException(source + ": truncated gzip data: " + e.getMessage());
    named.initCause(e);
    return named;
  }

  /** The name used in messages and as the default id prefix: the file's own name. */
  static String sourceName(Path file) {
    Path name = file.getFileName();
    return name == null ? file.toString() : name.toString();
  }
}
