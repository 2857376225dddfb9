package dev.lethe.onnx;

import dev.lethe.core.Sha256;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.nio.file.StandardOpenOption;

/**
 * A model file split as {@link WeightSplicer.Split} but with the skeleton left in the file: the
 * skeleton is streamed from the file, skipping the parameters' payloads, so its size does not
 * count against the heap; only the parameters' bytes are held.
 *
 * @param file the model file (must stay in place while the skeleton is read)
 * @param fileSize its size in bytes
 * @param cutFrom file offset of each splice's payload, increasing
 * @param spliceOffsets offsets in the skeleton where payloads go, increasing
 * @param spliceParameters for each splice, the index of its parameter in spec order
 * @param weights the parameters' payloads concatenated in spec order (float32 little-endian)
 * @param parameterOffsets byte offset of each parameter in {@code weights}, plus the total
 */
public record FileSplit(Path file, long fileSize, long[] cutFrom, long[] spliceOffsets,
    int[] spliceParameters, byte[] weights, long[] parameterOffsets) {

  /** Bytes of the skeleton. */
  public long skeletonSize() {
    return fileSize - weights.length;
  }

  /** Streams the skeleton; the caller closes the stream. */
  public InputStream skeleton() throws IOException {
    FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
    return new InputStream() {
      private long pos; // in the file
      private int next; // the next cut

      @Override
      public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
          return 0;
        }
        while (next < cutFrom.length && pos == cutFrom[next]) {
          pos += payloadLength(next);
          next++;
        }
        long limit = (next < cutFrom.length ? cutFrom[next] : fileSize) - pos;
        if (limit <= 0) {
          return -1;
        }
        int r = ch.read(ByteBuffer.wrap(b, off, (int) Math.min(len, limit)), pos);
        if (r < 0) {
          throw new IOException("model file " + file + " ended early");
        }
        pos += r;
        return r;
      }

      @Override
      public void close() throws IOException {
        ch.close();
      }
    };
  }

  /** Feeds the skeleton's bytes to {@code md}, read in parts. */
  public void digestSkeleton(MessageDigest md) {
    try (InputStream in = skeleton()) {
      update(md, in);
    } catch (IOException e) {
      throw new UncheckedIOException("reading the model file " + file, e);
    }
  }

  /** SHA-256 (hex) of the whole file, read in parts. */
  public String sha256() {
    MessageDigest md = Sha256.digest();
    try (InputStream in = Files.newInputStream(file)) {
      update(md, in);
    } catch (IOException e) {
      throw new UncheckedIOException("reading the model file " + file, e);
    }
    return Sha256.hex(md);
  }

  private static void update(MessageDigest md, InputStream in) throws IOException {
    byte[] buffer = new byte[1 << 16];
    for (int n; (n = in.read(buffer)) > 0; ) {
      md.update(buffer, 0, n);
    }
  }

  private long payloadLength(int splice) {
    int p = spliceParameters[splice];
    return parameterOffsets[p + 1] - parameterOffsets[p];
  }

  /** The in-memory form, for a comparison with {@link WeightSplicer#split} (tests). */
  public WeightSplicer.Split toSplit() throws IOException {
    try (InputStream in = skeleton()) {
      return new WeightSplicer.Split(in.readAllBytes(), spliceOffsets, spliceParameters, weights,
          parameterOffsets);
    }
  }
}
