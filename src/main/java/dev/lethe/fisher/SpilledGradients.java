package dev.lethe.fisher;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Gradient rows that arrive once (a client stream) spilled to a temporary file, so a multi-pass
 * build can replay them. Rows are appended with {@link #append}, then read by passes; float32
 * little-endian, row-major. {@link #close()} deletes the file (also on a failed construction).
 *
 * <p>Appending is single-threaded and must finish before the first {@link #open}; passes may then
 * run concurrently (positional reads).
 */
public final class SpilledGradients implements GradientSource, AutoCloseable {
  private static final int IO_BYTES = 1 << 20;

  private final Path file;
  private final FileChannel channel;
  private final int p;
  private final ByteBuffer out = ByteBuffer.allocateDirect(IO_BYTES).order(ByteOrder.LITTLE_ENDIAN);
  private long n;
  private boolean reading;
  private boolean closed;

  /** Creates an empty spill file in {@code dir} for rows of {@code columns} floats. */
  public SpilledGradients(Path dir, int columns) throws IOException {
    if (columns < 1) {
      throw new IllegalArgumentException("columns must be >= 1, got " + columns);
    }
    this.p = columns;
    this.file = Files.createTempFile(dir, "lethe-gradients-", ".f32");
    try {
      channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
    } catch (IOException e) {
      Files.deleteIfExists(file);
      throw e;
    }
  }

  /** The spill file (deleted by close). */
  public Path file() {
    return file;
  }

  /** Appends {@code count} rows of P floats from {@code rows} (row-major). */
  public void append(float[] rows, int count) throws IOException {
    if (reading || closed) {
      throw new IllegalStateException("append after the first pass or after close");
    }
    if ((long) count * p > rows.length) {
      throw new IllegalArgumentException("rows: " + count + " x " + p + " exceeds " + rows.length);
    }
    int total = count * p;
    for (int i = 0; i < total; ) {
      int m = Math.min(total - i, out.remaining() / 4);
      out.asFloatBuffer().put(rows, i, m);
      out.position(out.position() + 4 * m);
      i += m;
      if (!out.hasRemaining()) {
        flush();
      }
    }
    n += count;
  }

  private void flush() throws IOException {
    out.flip();
    while (out.hasRemaining()) {
      channel.write(out);
    }
    out.clear();
  }

  @Override
  public long rows() {
    return n;
  }

  @Override
  public int columns() {
    return p;
  }

  @Override
  public Cursor open(int from, int to) throws IOException {
    if (from < 0 || to > p || from > to) {
      throw new IllegalArgumentException("column range [" + from + ", " + to + ") outside [0, " + p + "]");
    }
    synchronized (this) {
      if (closed) {
        throw new IllegalStateException("spilled gradients closed");
      }
      if (!reading) {
        flush();
        reading = true;
      }
    }
    int width = to - from;
    ByteBuffer in = ByteBuffer.allocateDirect(Math.max(IO_BYTES, 4 * width)).order(ByteOrder.LITTLE_ENDIAN);
    return new Cursor() {
      private long row;

      @Override
      public int next(float[] rows, int maxRows) throws IOException {
        int count = (int) Math.min(maxRows, n - row);
        if (width == p) {
          // Whole rows: one contiguous read per buffer-full.
          int done = 0;
          while (done < count) {
            int m = Math.min(count - done, in.capacity() / (4 * p));
            readFully(in, (row + done) * p * 4L, m * p * 4);
            in.asFloatBuffer().get(rows, done * p, m * p);
            done += m;
          }
        } else {
          for (int r = 0; r < count; r++) {
            readFully(in, ((row + r) * p + from) * 4L, width * 4);
            in.asFloatBuffer().get(rows, r * width, width);
          }
        }
        row += count;
        return count;
      }

      @Override
      public void close() {}
    };
  }

  private void readFully(ByteBuffer in, long position, int bytes) throws IOException {
    in.clear().limit(bytes);
    while (in.hasRemaining()) {
      if (channel.read(in, position + in.position()) < 0) {
        throw new IOException("spill file " + file + " ended early");
      }
    }
    in.flip();
  }

  /** Closes and deletes the spill file. Idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      channel.close();
      Files.deleteIfExists(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete spill file " + file, e);
    }
  }
}
