package dev.lethe.onnx;

import dev.lethe.core.LetheException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * A cursor over protobuf wire format in a file, by absolute offsets: it reads tags, varints and
 * lengths through a small buffer and skips payloads without reading them, so a scan of a file of
 * any size holds one buffer. Not thread-safe; the caller owns (and closes) the channel.
 */
final class FileWire {
  private static final int BUFFER = 64 * 1024;
  private final FileChannel channel;
  private final long size;
  private final ByteBuffer buffer = ByteBuffer.allocate(BUFFER);
  private long bufferStart;
  /** The current position in the file. */
  long pos;

  FileWire(FileChannel channel, long size) {
    this.channel = channel;
    this.size = size;
    this.buffer.limit(0);
  }

  long size() {
    return size;
  }

  int readTag(long end) {
    long tag = readVarint(end);
    if (tag >>> 32 != 0 || tag >>> 3 == 0) {
      throw malformed();
    }
    return (int) tag;
  }

  long readVarint(long end) {
    long result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= end) {
        throw malformed();
      }
      byte b = byteAt(pos++);
      result |= (long) (b & 0x7F) << shift;
      if (b >= 0) {
        return result;
      }
    }
    throw malformed();
  }

  /** A length-delimited field's length, checked against {@code end}. */
  long readLength(long end) {
    long len = readVarint(end);
    if (len < 0 || len > end - pos) {
      throw malformed();
    }
    return len;
  }

  /** Skips the value of a field with {@code tag}, checked against {@code end}. */
  void skip(int tag, long end) {
    switch (tag & 7) {
      case 0 -> readVarint(end);
      case 1 -> advance(8, end);
      case 2 -> advance(readLength(end), end);
      case 5 -> advance(4, end);
      default -> throw malformed();
    }
  }

  /** The UTF-8 string of {@code len} bytes at the position (a short field: a name). */
  String readString(long len) {
    if (len > Integer.MAX_VALUE - 16) {
      throw malformed();
    }
    byte[] b = new byte[(int) len];
    read(pos, b, 0, b.length);
    pos += len;
    return new String(b, java.nio.charset.StandardCharsets.UTF_8);
  }

  private void advance(long n, long end) {
    if (n > end - pos) {
      throw malformed();
    }
    pos += n;
  }

  private byte byteAt(long at) {
    if (at < bufferStart || at >= bufferStart + buffer.limit()) {
      fill(at);
    }
    return buffer.get((int) (at - bufferStart));
  }

  private void fill(long at) {
    buffer.clear();
    bufferStart = at;
    try {
      while (buffer.hasRemaining() && bufferStart + buffer.position() < size) {
        if (channel.read(buffer, bufferStart + buffer.position()) < 0) {
          break;
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("reading a staged model", e);
    }
    buffer.flip();
    if (buffer.limit() == 0) {
      throw malformed();
    }
  }

  /** Reads {@code len} bytes at {@code at} of the file into {@code out}. */
  void read(long at, byte[] out, int off, int len) {
    ByteBuffer b = ByteBuffer.wrap(out, off, len);
    try {
      while (b.hasRemaining()) {
        if (channel.read(b, at + b.position() - off) < 0) {
          throw malformed();
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("reading a staged model", e);
    }
  }

  static LetheException malformed() {
    return LetheException.invalid("chunk", "not a valid ONNX file (malformed protobuf)");
  }
}
