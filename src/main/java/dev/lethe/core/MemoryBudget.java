package dev.lethe.core;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;

/**
 * The sidecar's one memory budget, computed once at start from the JVM's limits and split
 * between the things whose size a request decides. All figures are bytes.
 *
 * <p>Heap ({@code heapBytes}, default {@link Runtime#maxMemory()}): a fixed reserve for the server
 * itself ({@link #reserveBytes}: gRPC, RocksDB handles, model records, ONNX Runtime's Java side)
 * and, of the rest, {@value #FISHER_PERCENT}% for a Fisher build's block accumulators,
 * {@value #BATCH_PERCENT}% for gradient rows in flight (an erase's or a build's chunks),
 * {@value #UPLOAD_PERCENT}% for checking an upload (parsed once on the heap; the upload itself is
 * staged on disk) and {@value #REQUEST_PERCENT}% for request messages (the default
 * {@code --max-message-bytes} bound). Direct memory ({@code directBytes}, default the JVM's
 * {@code -XX:MaxDirectMemorySize}, which is the heap size when unset): {@value #GRADIENT_PERCENT}%
 * for the gradient output buffers of ONNX Runtime runs (one pool shared by all models); the rest
 * is left to Netty's transfer buffers, Fisher block reads and the cached weights.
 *
 * <p>Any share may be set explicitly (a flag's value &gt; 0); the others keep their defaults.
 * Immutable.
 *
 * @param heapBytes the heap the budget is taken from
 * @param directBytes the direct memory the budget is taken from
 * @param fisherBytes heap for one Fisher build's accumulators ({@code --fisher-memory-bytes})
 * @param gradientBytes direct memory for gradient buffers, all models ({@code --gradient-memory-bytes})
 * @param batchBytes heap for gradient rows held at once by erases and builds
 * @param uploadBytes heap for checking and registering uploads
 * @param requestBytes heap for request messages (bounds the default {@code --max-message-bytes})
 */
public record MemoryBudget(long heapBytes, long directBytes, long fisherBytes,
    long gradientBytes, long batchBytes, long uploadBytes, long requestBytes) {
  public static final int FISHER_PERCENT = 40;
  public static final int BATCH_PERCENT = 20;
  public static final int UPLOAD_PERCENT = 20;
  public static final int REQUEST_PERCENT = 20;
  public static final int GRADIENT_PERCENT = 40;
  /** The least heap kept for the server itself. */
  public static final long MIN_RESERVE = 48L << 20;
  /**
   * Heap a model structure of S bytes (the file less its large initializers, which stay on disk)
   * needs while it is built, parsed and checked: this many times S.
   */
  public static final int UPLOAD_HEAP_FACTOR = 3;

  public MemoryBudget {
    if (heapBytes < 1 || directBytes < 1 || fisherBytes < 1 || gradientBytes < 1
        || batchBytes < 1 || uploadBytes < 1 || requestBytes < 1) {
      throw new IllegalArgumentException("memory budget figures must be > 0: heap " + heapBytes
          + ", direct " + directBytes + ", fisher " + fisherBytes + ", gradients " + gradientBytes
          + ", batches " + batchBytes + ", uploads " + uploadBytes + ", requests " + requestBytes);
    }
  }

  /** The heap kept for the server itself: an eighth of the heap, at least {@link #MIN_RESERVE}. */
  public static long reserveBytes(long heapBytes) {
    return Math.min(heapBytes / 2, Math.max(MIN_RESERVE, heapBytes / 8));
  }

  /** The default split of the given limits. */
  public static MemoryBudget of(long heapBytes, long directBytes) {
    return of(heapBytes, directBytes, 0, 0);
  }

  /**
   * The split of the given limits (each 0 = the JVM's), with an explicit Fisher or gradient
   * share where {@code fisherBytes} or {@code gradientBytes} is &gt; 0.
   *
   * @throws IllegalArgumentException for a negative figure, naming its flag
   */
  public static MemoryBudget of(long heapBytes, long directBytes, long fisherBytes,
      long gradientBytes) {
    check("--heap-budget-bytes", heapBytes);
    check("--direct-budget-bytes", directBytes);
    check("--fisher-memory-bytes", fisherBytes);
    check("--gradient-memory-bytes", gradientBytes);
    long heap = heapBytes > 0 ? heapBytes : Runtime.getRuntime().maxMemory();
    long direct = directBytes > 0 ? directBytes : jvmDirectLimit();
    long usable = heap - reserveBytes(heap);
    return new MemoryBudget(heap, direct,
        fisherBytes > 0 ? fisherBytes : share(usable, FISHER_PERCENT),
        gradientBytes > 0 ? gradientBytes : share(direct, GRADIENT_PERCENT),
        share(usable, BATCH_PERCENT), share(usable, UPLOAD_PERCENT),
        share(usable, REQUEST_PERCENT));
  }

  /** The default split of this JVM's limits. */
  public static MemoryBudget detect() {
    return of(0, 0);
  }

  /**
   * The JVM's direct-memory limit: {@code -XX:MaxDirectMemorySize}, or the heap's maximum when
   * it is unset (the JDK's own default).
   */
  public static long jvmDirectLimit() {
    try {
      HotSpotDiagnosticMXBean hotspot =
          ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
      long set = Long.parseLong(hotspot.getVMOption("MaxDirectMemorySize").getValue());
      if (set > 0) {
        return set;
      }
    } catch (RuntimeException notHotSpot) {
      // another VM: its default is the heap's maximum too
    }
    return Runtime.getRuntime().maxMemory();
  }

  /** Bytes of gradient rows (float32 [rows, P]) an erase or a build may hold at once. */
  public long rowChunkBytes() {
    return batchBytes / 2; // the rows and the copy a consumer makes of a part of them
  }

  /** The default {@code --max-message-bytes}: the request share, at most 64 MiB. */
  public int defaultMaxMessageBytes() {
    return (int) Math.max(1 << 20, Math.min(64L << 20, requestBytes));
  }

  /** One line for the start-up log. */
  public String describe() {
    return "memory budget: heap " + mib(heapBytes) + " (Fisher accumulators " + mib(fisherBytes)
        + ", gradient rows " + mib(batchBytes) + ", upload checks " + mib(uploadBytes)
        + ", requests " + mib(requestBytes) + ", server " + mib(reserveBytes(heapBytes))
        + "); direct " + mib(directBytes) + " (gradient buffers " + mib(gradientBytes) + ")";
  }

  private static String mib(long bytes) {
    return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
  }

  private static long share(long total, int percent) {
    return Math.max(1, total / 100 * percent);
  }

  private static void check(String flag, long value) {
    if (value < 0) {
      throw new IllegalArgumentException(flag + " must be >= 0 (0 = derived from the JVM's limits), got "
          + value);
    }
  }
}
