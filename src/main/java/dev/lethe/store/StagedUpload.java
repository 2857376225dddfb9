package dev.lethe.store;

import dev.lethe.core.LetheException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * An upload on its way in: the chunks of a PutModel stream go to an owner-only temporary file in
 * {@code <data-dir>/tmp} as they arrive, so a stream holds no more heap than one message however
 * large the model; once the stream is complete, {@link ModelStore#put(dev.lethe.core.ModelConfig,
 * StagedUpload, boolean)} registers it from the file ({@link UploadScan}: the structure is parsed
 * on the heap, the weights are read from the file). The file is deleted by {@link #close()} and,
 * after a crash, by {@link #sweep} at the next start.
 *
 * <p>Not thread-safe (one stream). Owned by the receiver that created it.
 */
public final class StagedUpload implements AutoCloseable {
  private static final String PREFIX = "lethe-upload";
  private final Path file;
  private final FileChannel channel;
  private final long limit;
  private long size;
  private boolean closed;

  StagedUpload(Path dir, long limit) {
    this.limit = limit;
    try {
      Files.createDirectories(dir);
      this.file = Files.createTempFile(dir, PREFIX, ".onnx",
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      this.channel = FileChannel.open(file, StandardOpenOption.WRITE);
    } catch (IOException e) {
      throw new UncheckedIOException("staging an upload in " + dir, e);
    }
  }

  /**
   * Appends one chunk.
   *
   * @throws LetheException RESOURCE_EXHAUSTED (field chunk) past the upload limit
   */
  public void append(ByteBuffer chunk) {
    long after = size + chunk.remaining();
    if (after > limit) {
      throw LetheException.tooLarge("chunk", "upload exceeds the limit of " + limit
          + " bytes (--max-model-bytes)");
    }
    try {
      while (chunk.hasRemaining()) {
        channel.write(chunk);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("writing a staged upload to " + file, e);
    }
    size = after;
  }

  /** Bytes received so far. */
  public long size() {
    return size;
  }

  /**
   * The staged file, for {@link ModelStore#put(dev.lethe.core.ModelConfig, StagedUpload,
   * boolean)}: registration scans it where it is ({@link UploadScan}), so checking it holds the
   * model's structure on the heap, not its weights.
   */
  public Path file() {
    return file; // written through the channel: other readers of the file see every byte
  }

  /**
   * Stages the rest of {@code in} (not closed) in {@code dir}, refused past {@code limit} as
   * {@link #append} is: bytes given to the store in memory, or a stored model written out for
   * ONNX Runtime.
   */
  static StagedUpload copyOf(java.io.InputStream in, Path dir, long limit) {
    StagedUpload staged = new StagedUpload(dir, limit);
    try {
      byte[] buffer = new byte[1 << 20];
      for (int n; (n = in.read(buffer)) > 0; ) {
        staged.append(ByteBuffer.wrap(buffer, 0, n));
      }
      return staged;
    } catch (IOException e) {
      staged.close();
      throw new UncheckedIOException("staging a model file in " + dir, e);
    } catch (RuntimeException e) {
      staged.close();
      throw e;
    }
  }

  /** Deletes the file. Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      channel.close();
      Files.deleteIfExists(file);
    } catch (IOException e) {
      throw new UncheckedIOException("deleting the staged upload " + file, e);
    }
  }

  /** Deletes staged uploads a crash left in {@code dir}; returns how many. */
  static int sweep(Path dir) {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    int n = 0;
    try (var files = Files.newDirectoryStream(dir, PREFIX + "*.onnx")) {
      for (Path f : files) {
        Files.deleteIfExists(f);
        n++;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("sweeping staged uploads in " + dir, e);
    }
    return n;
  }
}
