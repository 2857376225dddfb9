package dev.lethe.fisher;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stored Fisher inverse, applied block by block: {@code out = F⁻¹ v}. Each of {@code parallelism}
 * tasks on the shared Fisher pool reads one block at a time from RocksDB into a reused direct
 * buffer and multiplies it there, so the heap never holds F⁻¹ (heap use: the vectors; direct
 * memory: one largest-block buffer per task, kept for the next apply until {@link #close()}).
 * No block cache: every apply reads every block (F⁻¹ is read once per erase; the OS page cache
 * keeps hot blob files).
 *
 * <p>Thread-safe: concurrent applies share the pool. Does not own the pool; close the inverse
 * (idempotent, drops its buffers) before the {@link dev.lethe.storage.LetheDb} is closed. A block found missing or corrupt
 * (size, CRC32C) fails the call with a {@link dev.lethe.storage.StorageException} naming the
 * model, the Fisher and the block; no partial result is used.
 */
public final class FisherInverse implements AutoCloseable {
  private final FisherStore store;
  private final String model;
  private final String fisherId;
  private final byte[] prefix;
  private final FisherHeader header;
  private final boolean verify;
  private final int parallelism;
  private final ExecutorService pool;
  private final int keyBytes;
  private final int valueBytes;
  private final ConcurrentLinkedQueue<ByteBuffer[]> buffers = new ConcurrentLinkedQueue<>();
  private volatile boolean closed;

  /** @param pool the shared Fisher pool, or null to apply in the calling thread */
  FisherInverse(FisherStore store, String model, String fisherId, FisherHeader header,
      ExecutorService pool, int parallelism, boolean verify) {
    if (parallelism < 1) {
      throw new IllegalArgumentException("parallelism must be >= 1, got " + parallelism);
    }
    this.store = store;
    this.model = model;
    this.fisherId = fisherId;
    this.prefix = FisherStore.prefix(model, fisherId);
    this.header = header;
    this.verify = verify;
    this.pool = pool;
    this.parallelism = pool == null ? 1 : parallelism;
    int largest = header.layout().largestBlock();
    this.keyBytes = FisherStore.keyBytes(prefix);
    this.valueBytes = largest * largest * Float.BYTES;
  }

  public FisherHeader header() {
    return header;
  }

  public BlockLayout layout() {
    return header.layout();
  }

  public String fisherId() {
    return fisherId;
  }

  /** out = F⁻¹v in double. v is not modified; v and out must not alias. */
  public void apply(double[] v, double[] out) {
    BlockLayout layout = layout();
    int p = layout.parameterCount();
    if (v.length != p || out.length != p) {
      throw new IllegalArgumentException("vectors must have " + p + " entries, got " + v.length + " and " + out.length);
    }
    if (closed) {
      throw new IllegalStateException("Fisher " + fisherId + " of model " + model + " is closed");
    }
    AtomicInteger next = new AtomicInteger();
    Callable<Void> task = () -> {
      ByteBuffer[] buf = takeBuffers();
      try {
        for (int b; (b = next.getAndIncrement()) < layout.blockCount(); ) {
          store.readBlock(model, fisherId, prefix, header, b, buf[0], buf[1], verify);
          if (header.packed()) {
            multiplyPacked(buf[1], layout.size(b), v, out, layout.start(b));
          } else {
            multiply(buf[1], layout.size(b), v, out, layout.start(b));
          }
        }
      } finally {
        buffers.offer(buf);
      }
      return null;
    };
    if (pool == null) {
      Futures.call(task);
      return;
    }
    List<Future<?>> futures = new ArrayList<>(parallelism);
    for (int t = 0; t < parallelism; t++) {
      futures.add(pool.submit(task));
    }
    Futures.awaitAll(futures, "applying the Fisher");
  }

  private ByteBuffer[] takeBuffers() {
    ByteBuffer[] b = buffers.poll();
    return b != null ? b
        : new ByteBuffer[] {ByteBuffer.allocateDirect(keyBytes), ByteBuffer.allocateDirect(valueBytes)};
  }

  /** Reads block {@code b} (verified) into {@code out}, row-major b × b. For tests and downdate. */
  public void readBlock(int b, float[] out) {
    int size = layout().size(b);
    if (out.length < size * size) {
      throw new IllegalArgumentException("block " + b + " needs " + size * size + " floats");
    }
    ByteBuffer[] buf = takeBuffers();
    try {
      store.readBlock(model, fisherId, prefix, header, b, buf[0], buf[1], true);
      java.nio.FloatBuffer f = buf[1].asFloatBuffer();
      if (!header.packed()) {
        f.get(out, 0, size * size);
      } else {
        for (int i = 0, pos = 0; i < size; pos += size - i, i++) {
          f.get(pos, out, i * size + i, size - i);
          for (int j = i + 1; j < size; j++) {
            out[j * size + i] = out[i * size + j];
          }
        }
      }
    } finally {
      buffers.offer(buf);
    }
  }

  /**
   * y[off..off+b) = M x[off..off+b) with M the b × b float32 block in {@code m} (little-endian).
   * Each row is first bulk-copied into a float[] (a memcpy), so the dot product runs over plain
   * arrays rather than per-element buffer reads.
   */
  static void multiply(ByteBuffer m, int b, double[] x, double[] y, int off) {
    java.nio.FloatBuffer f = m.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    float[] row = row(b);
    int j8 = b & ~7;
    for (int i = 0; i < b; i++) {
      f.get(i * b, row, 0, b);
      double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
      int j = 0;
      for (; j < j8; j += 8) {
        int k = off + j;
        s0 += row[j] * x[k];
        s1 += row[j + 1] * x[k + 1];
        s2 += row[j + 2] * x[k + 2];
        s3 += row[j + 3] * x[k + 3];
        s4 += row[j + 4] * x[k + 4];
        s5 += row[j + 5] * x[k + 5];
        s6 += row[j + 6] * x[k + 6];
        s7 += row[j + 7] * x[k + 7];
      }
      for (; j < b; j++) {
        s0 += row[j] * x[off + j];
      }
      y[off + i] = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    }
  }

  /**
   * y[off..off+b) = M x[off..off+b) for the symmetric block M stored packed in {@code m} (row i:
   * entries (i, i..b−1)). Each stored entry a_ij (j > i) serves twice — in row i's dot product
   * and, as a_ji, added to y_j — so the block is read once at half the bytes of dense storage.
   */
  static void multiplyPacked(ByteBuffer m, int b, double[] x, double[] y, int off) {
    java.nio.FloatBuffer f = m.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    float[] row = row(b);
    java.util.Arrays.fill(y, off, off + b, 0.0);
    for (int i = 0, pos = 0; i < b; pos += b - i, i++) {
      int len = b - i;
      f.get(pos, row, 0, len);
      int base = off + i;
      double xi = x[base];
      double s0 = row[0] * xi, s1 = 0, s2 = 0, s3 = 0;
      int j = 1;
      for (; j + 3 < len; j += 4) {
        s0 += row[j] * x[base + j];
        s1 += row[j + 1] * x[base + j + 1];
        s2 += row[j + 2] * x[base + j + 2];
        s3 += row[j + 3] * x[base + j + 3];
      }
      for (; j < len; j++) {
        s0 += row[j] * x[base + j];
      }
      for (int k = 1; k < len; k++) {
        y[base + k] += row[k] * xi;
      }
      y[base] += (s0 + s1) + (s2 + s3);
    }
  }

  /** This thread's row buffer, of at least b floats. */
  private static float[] row(int b) {
    float[] row = ROW.get();
    if (row.length < b) {
      row = new float[b];
      ROW.set(row);
    }
    return row;
  }

  /** One reusable row buffer per worker thread. */
  private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[1024]);

  /** Refuses further applies and drops the buffers (freed with them). Idempotent. */
  @Override
  public void close() {
    closed = true;
    buffers.clear();
  }
}
