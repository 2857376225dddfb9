package dev.lethe.core;

import java.nio.ByteBuffer;
import java.util.logging.Logger;

/**
 * The process's {@link MemoryBudget} and the pools taken from it. The server installs the budget
 * it computed from its flags once at start ({@link #install}); until then (tools, tests) the
 * budget is the default split of this JVM's limits. One process, one budget: the gradient
 * buffers of every model come from one pool, so the direct memory they take does not grow with
 * the number of models.
 *
 * <p>Thread-safe. Pools are replaced whole by {@link #install}; a reservation taken from the old
 * pool is returned to it.
 */
public final class Memory {
  private static final Logger LOG = Logger.getLogger(Memory.class.getName());
  private static volatile State state = new State(MemoryBudget.detect());

  private Memory() {}

  private record State(MemoryBudget budget, MemoryPool gradients, MemoryPool uploads,
      MemoryPool responses) {
    State(MemoryBudget b) {
      this(b, new MemoryPool("gradient buffer", "--gradient-memory-bytes", b.gradientBytes()),
          new MemoryPool("upload check", "the heap (-Xmx, or --heap-budget-bytes)", b.uploadBytes()),
          new MemoryPool("response", "the heap (-Xmx, or --heap-budget-bytes)", b.requestBytes()));
    }
  }

  /** Makes {@code budget} the process's budget (the server, at start) and logs it. */
  public static void install(MemoryBudget budget) {
    state = new State(budget);
    LOG.info(budget::describe);
  }

  public static MemoryBudget budget() {
    return state.budget();
  }

  /** Direct memory for gradient output buffers, shared by every model's gradient runs. */
  public static MemoryPool gradients() {
    return state.gradients();
  }

  /**
   * Heap (and the transport's direct buffers) for large responses in flight, e.g. full
   * Gradients matrices: concurrent calls together stay within the request share.
   */
  public static MemoryPool responses() {
    return state.responses();
  }

  /** Heap for checking uploads: their structure and erasable weights (the rest stays on disk). */
  public static MemoryPool uploads() {
    return state.uploads();
  }

  /**
   * Frees a direct buffer now rather than when the garbage collector finds it, so a released
   * reservation is released memory. The buffer must not be used afterwards (nor any view of it).
   */
  public static void free(ByteBuffer direct) {
    if (direct == null || !direct.isDirect()) {
      return;
    }
    try {
      UNSAFE_INVOKE_CLEANER.invoke(THE_UNSAFE, direct);
    } catch (ReflectiveOperationException | RuntimeException e) {
      // not freeable here (a slice, another VM): the collector frees it
    }
  }

  private static final Object THE_UNSAFE;
  private static final java.lang.reflect.Method UNSAFE_INVOKE_CLEANER;

  static {
    Object unsafe = null;
    java.lang.reflect.Method invoke = null;
    try {
      Class<?> c = Class.forName("sun.misc.Unsafe");
      java.lang.reflect.Field f = c.getDeclaredField("theUnsafe");
      f.setAccessible(true);
      unsafe = f.get(null);
      invoke = c.getMethod("invokeCleaner", ByteBuffer.class);
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.fine("direct buffers are freed by the collector: " + e);
    }
    THE_UNSAFE = unsafe;
    UNSAFE_INVOKE_CLEANER = invoke;
  }

  /**
   * The RESOURCE_EXHAUSTED answer for an allocation the JVM refused: names what was being done,
   * what ran out (heap or direct memory) and the setting that gives more.
   */
  public static LetheException outOfMemory(String doing, OutOfMemoryError e) {
    String m = String.valueOf(e.getMessage());
    boolean direct = m.contains("direct buffer");
    return new LetheException(LetheException.Kind.RESOURCE_EXHAUSTED, doing + ": out of "
        + (direct ? "direct memory (" + m + "); raise -XX:MaxDirectMemorySize or lower"
            + " --gradient-memory-bytes"
            : "heap memory (" + m + "); raise -Xmx (JAVA_TOOL_OPTIONS) or lower"
            + " --fisher-memory-bytes / --max-message-bytes")
        + "; see the README's sizing guide", e);
  }
}
