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
 * buffer and multiplies it there, so the heap never holds F⁻¹ (heap use: the vectors and, per
 * pool thread, one copy of the largest packed block, 2 MiB at b = 1024; direct memory: one
 * largest-block buffer per task during an apply, freed when it returns).
 * No block cache: every apply reads every block (F⁻¹ is read once per erase; the OS page cache
 * keeps hot blob files).
 *
 * <p>Thread-safe: concurrent applies share the pool. Does not own the pool; close the inverse
 * (idempotent, drops its buffers) before the {@link dev.lethe.storage.LetheDb} is closed. A block found missing or corrupt
 * (size, CRC32C) fails the call with a {@link dev.lethe.storage.StorageException} naming the
 * model, the Fisher and the block; no partial result is used.
 */
public final class FisherInverse implements OpenFisher {
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
            multiplyPacked(buf[1], layout.size(b), v, out, layout.start(b), block(layout.size(b)));
          } else {
            multiply(buf[1], layout.size(b), v, out, layout.start(b));
          }
        }
      } finally {
        buffers.offer(buf);
      }
      return null;
    };
    try {
      if (pool == null) {
        Futures.call(task);
        return;
      }
      List<Future<?>> futures = new ArrayList<>(parallelism);
      for (int t = 0; t < parallelism; t++) {
        futures.add(pool.submit(task));
      }
      Futures.awaitAll(futures, "applying the Fisher");
    } finally {
      // An idle model keeps no block buffers: an erase reads F⁻¹ once, the next one allocates.
      freeIdleBuffers();
    }
  }

  private void freeIdleBuffers() {
    for (ByteBuffer[] b; (b = buffers.poll()) != null; ) {
      dev.lethe.core.Memory.free(b[0]);
      dev.lethe.core.Memory.free(b[1]);
    }
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

  /** Block {@code b}'s stored F⁻¹ in double, row-major b × b (verified). */
  void readInverse(int b, double[] out) {
    int size = layout().size(b);
    float[] f = new float[size * size];
    readBlock(b, f);
    for (int i = 0; i < f.length; i++) {
      out[i] = f[i];
    }
  }

  /**
   * Block {@code b}'s stored F⁻¹ in double, packed: the upper triangle row by row (row i holds
   * (i, i..b−1)), which is LAPACK's column-major lower packed form ("L") of the same symmetric
   * matrix; b(b+1)/2 values (verified).
   */
  void readPackedInverse(int b, double[] packed) {
    int size = layout().size(b);
    ByteBuffer[] buf = takeBuffers();
    try {
      store.readBlock(model, fisherId, prefix, header, b, buf[0], buf[1], true);
      java.nio.FloatBuffer f = buf[1].asFloatBuffer();
      if (header.packed()) {
        for (int i = 0, n = size * (size + 1) / 2; i < n; i++) {
          packed[i] = f.get(i);
        }
      } else {
        for (int i = 0, pos = 0; i < size; i++) {
          for (int j = i; j < size; j++) {
            packed[pos++] = f.get(i * size + j);
          }
        }
      }
    } finally {
      buffers.offer(buf);
    }
  }

  /**
   * Block {@code b}'s F in double, row-major b × b, the upper triangle only (entries below the
   * diagonal are not written): read where the Fisher stores it beside the inverse
   * ({@link FisherHeader#withFisher()}), else the stored inverse inverted (≈ b³ more work, the
   * same values to float32 rounding).
   */
  void readFisherUpper(int b, double[] out) {
    int size = layout().size(b);
    if (header.withFisher()) {
      store.readFisherBlock(model, fisherId, header, b, out);
      return;
    }
    double[] packed = new double[size * (size + 1) / 2];
    readPackedInverse(b, packed);
    for (int i = 0, pos = 0; i < size; i++) {
      for (int j = i; j < size; j++) {
        out[i * size + j] = packed[pos];
        out[j * size + i] = packed[pos++];
      }
    }
    double[] f = BlockInversion.invert(out, size, FisherAccumulator.describe(layout(), b) + "'s"
        + " stored inverse", header.dampening());
    if (f != out) {
      System.arraycopy(f, 0, out, 0, size * size);
    }
  }

  /** Block {@code b}'s F in double, row-major b × b, both triangles (tests). */
  void readFisher(int b, double[] out) {
    int size = layout().size(b);
    readFisherUpper(b, out);
    for (int i = 0; i < size; i++) {
      for (int j = i + 1; j < size; j++) {
        out[j * size + i] = out[i * size + j];
      }
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
   * entries (i, i..b−1)). The block is bulk-copied into {@code scratch} (a memcpy), then taken
   * two rows at a time: each stored a_ij serves the two rows' dot products and, as a_ji, one
   * update of y_j shared by both rows, so x and y are streamed once per pair of rows. Sums in
   * double; scratch holds at least b(b+1)/2 floats and is overwritten.
   */
  static void multiplyPacked(ByteBuffer m, int b, double[] x, double[] y, int off, float[] scratch) {
    m.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
        .get(0, scratch, 0, b * (b + 1) / 2);
    float[] a = scratch;
    java.util.Arrays.fill(y, off, off + b, 0.0);
    int i = 0;
    int pos = 0;
    for (; i + 1 < b; i += 2) {
      int len = b - i;
      int next = pos + len; // row i + 1 starts at its diagonal, len − 1 entries
      int xi0 = off + i;
      double xi = x[xi0];
      double xk = x[xi0 + 1];
      double aik = a[pos + 1];
      double s0 = a[pos] * xi + aik * xk;
      double s1 = aik * xi + a[next] * xk;
      for (int j = 2; j < len; j++) {
        float p = a[pos + j];
        float q = a[next + j - 1];
        double xj = x[xi0 + j];
        s0 += p * xj;
        s1 += q * xj;
        y[xi0 + j] += p * xi + q * xk;
      }
      y[xi0] += s0;
      y[xi0 + 1] += s1;
      pos = next + len - 1;
    }
    if (i < b) {
      y[off + i] += a[pos] * x[off + i];
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

  /** This thread's block buffer, of at least b(b+1)/2 floats (2 MiB at b = 1024). */
  private static float[] block(int b) {
    int need = b * (b + 1) / 2;
    float[] block = BLOCK.get();
    if (block.length < need) {
      block = new float[need];
      BLOCK.set(block);
    }
    return block;
  }

  private static final ThreadLocal<float[]> BLOCK = ThreadLocal.withInitial(() -> new float[0]);

  /** One reusable row buffer per worker thread. */
  private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[1024]);

  /** Refuses further applies and frees the buffers. Idempotent. */
  @Override
  public void close() {
    closed = true;
    freeIdleBuffers();
  }
}
