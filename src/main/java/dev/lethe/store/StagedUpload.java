package dev.lethe.store;

import dev.lethe.core.LetheException;
import dev.lethe.core.Memory;
import dev.lethe.core.MemoryBudget;
import dev.lethe.core.MemoryPool;
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
 * large the model; once the stream is complete, {@link #load} reserves the heap checking it needs
 * and reads it back for {@link ModelStore#put(dev.lethe.core.ModelConfig, byte[], boolean)}. The file is deleted by {@link #close()} and, after a
 * crash, by {@link #sweep} at the next start.
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
          + " bytes (--max-model-bytes, and the heap needed to check it: " + MemoryBudget.UPLOAD_HEAP_FACTOR
          + " x its size within the upload share of the memory budget; see the sizing guide)");
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
   * Reserves the heap checking the file needs ({@link MemoryBudget#UPLOAD_HEAP_FACTOR} times its
   * size, from {@link Memory#uploads()}) and reads it; the caller closes the reservation when the
   * model is registered or refused.
   *
   * @throws LetheException RESOURCE_EXHAUSTED (field chunk) when that heap is not available
   */
  public Loaded load() {
    MemoryPool.Reservation heap = Memory.uploads().reserve(MemoryBudget.UPLOAD_HEAP_FACTOR * size,
        "chunk", "checking a model of " + size + " bytes (parsed and split on the heap) does", 30_000);
    try {
      channel.force(false);
      byte[] bytes = Files.readAllBytes(file);
      return new Loaded(bytes, heap);
    } catch (IOException e) {
      heap.close();
      throw new UncheckedIOException("reading the staged upload " + file, e);
    } catch (OutOfMemoryError e) {
      heap.close();
      throw Memory.outOfMemory("reading an upload of " + size + " bytes", e);
    }
  }

  /** The file's bytes and the heap reserved for checking them. */
  public record Loaded(byte[] bytes, MemoryPool.Reservation heap) implements AutoCloseable {
    @Override
    public void close() {
      heap.close();
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
