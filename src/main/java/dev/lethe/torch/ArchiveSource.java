package dev.lethe.torch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Random read access to the bytes of an archive as uploaded: what {@link TorchArchive} parses and
 * what a composed version copies from. The archive never holds the whole file; it reads the
 * central directory, {@code data.pkl}, the class code and, when asked, parameter storages.
 *
 * <p>Implementations must be safe for concurrent {@link #read} calls (positional reads, no shared
 * cursor) and must return the same bytes for as long as an archive built on them is in use.
 * Failures are {@link UncheckedIOException}s.
 */
public interface ArchiveSource {
  /** Size in bytes. */
  long size();

  /**
   * Reads exactly {@code dst.remaining()} bytes starting at {@code position} into {@code dst}
   * (advancing its position), or throws if the source ends first.
   */
  void read(long position, ByteBuffer dst);

  /** An in-memory archive; the array is not copied and must not change afterwards. */
  static ArchiveSource ofBytes(byte[] bytes) {
    return new ArchiveSource() {
      @Override
      public long size() {
        return bytes.length;
      }

      @Override
      public void read(long position, ByteBuffer dst) {
        if (position < 0 || position + dst.remaining() > bytes.length) {
          throw new UncheckedIOException(new IOException("read of " + dst.remaining() + " bytes at "
              + position + " past the end of a " + bytes.length + "-byte archive"));
        }
        dst.put(bytes, (int) position, dst.remaining());
      }
    };
  }

  /**
   * A file, opened for each read (the source holds no file handle, so nothing needs closing); the
   * file must not change while archives or compositions over it are in use.
   */
  static ArchiveSource ofFile(Path file) {
    long size;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      size = ch.size();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open " + file + ": " + e.getMessage(), e);
    }
    return new ArchiveSource() {
      @Override
      public long size() {
        return size;
      }

      @Override
      public void read(long position, ByteBuffer dst) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
          long p = position;
          while (dst.hasRemaining()) {
            int n = ch.read(dst, p);
            if (n < 0) {
              throw new IOException("read past the end of " + file + " at " + p);
            }
            p += n;
          }
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
    };
  }
}
