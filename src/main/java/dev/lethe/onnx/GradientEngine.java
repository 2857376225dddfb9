package dev.lethe.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lethe.core.LetheException;
import dev.lethe.core.Memory;
import dev.lethe.core.MemoryPool;
import dev.lethe.core.Samples;
import dev.lethe.core.DenseTensor;
import dev.lethe.onnx.grad.GradContext;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Runs a {@link GradientGraph} through ONNX Runtime: per-sample losses and gradients for a batch
 * in one run per chunk. A call's chunk is sized to the request: min(N, the largest chunk whose
 * run, counted as {@link #RUN_BLOCKS} [chunk, P] float32 blocks, fits a quarter of the gradient
 * pool), so that four calls of any models run side by side at full size.
 *
 * <p>Memory: the direct output buffers of a call are reserved from one {@link MemoryPool} shared
 * by every engine of the process ({@link Memory#gradients()}, {@code --gradient-memory-bytes}),
 * allocated for the call and freed when it returns: nothing outlives the call, so an idle model
 * holds no gradient buffers. A call waits (up to {@link #WAIT_MILLIS} ms) while other calls hold
 * the pool; one whose single-sample block exceeds the pool is RESOURCE_EXHAUSTED.
 *
 * <p>Symbolic input dims (a sequence length): a call's samples share their sizes (checked,
 * {@link #checkSizes}); the engine runs them through the graph specialised to those sizes, built
 * on the first call that brings them and kept for the {@link #SIZES_KEPT} most recently used
 * sizes ({@link GradientSessionCache}). There the chunk and the reservation also count the
 * batched forward values at the call's sizes ({@link GradientGraph#activationFloats}).
 *
 * <p>Ownership: the engine owns its ORT sessions (per sizes: the loss-seeded one created with the
 * graph, the cotangent-seeded one on first use); {@link #close()} releases them and must be called by
 * whoever created the engine. The caller keeps ownership of the parameter buffers (read, never
 * modified or retained after a call returns) and of the returned arrays. Thread-safe: calls may
 * run concurrently (ORT sessions are); close() waits for calls in flight, and a call after
 * close() throws IllegalStateException.
 */
public final class GradientEngine implements AutoCloseable {
  /**
   * Blocks of [rows, P] float32 a run is counted for: the pinned output and ONNX Runtime's
   * intermediates (outer products before the μθ add, activations), about two more.
   */
  public static final long RUN_BLOCKS = 3;

  /** How long a call waits for gradient buffers other calls hold. */
  public static final long WAIT_MILLIS = 30_000;

  /** How many sizes of the symbolic dims are kept built at once (least recently used retired). */
  public static final int SIZES_KEPT = GradientSessionCache.CAPACITY;

  final GradientGraph graph;
  final OrtEnvironment env = OrtEnvironment.getEnvironment();
  final GradientSessionCache sessions;
  private final int chunk;
  final long chunkBytes;
  private final int paramCount;
  final int[] paramSizes;
  final MemoryPool pool;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private boolean closed;

  /** Buffers from the process's gradient pool, runs counted at most a quarter of it. */
  public GradientEngine(GradientGraph graph) {
    this(graph, Memory.gradients(), Memory.gradients().capacity() / 4 / RUN_BLOCKS);
  }

  /**
   * Buffers from the process's gradient pool.
   *
   * @param chunkBytes bound on one run's gradient block (chunk · P · 4 bytes); a chunk holds at
   *     least one sample. ORT's intermediates (outer products before the μθ add, activations)
   *     come on top natively, typically one to two more blocks of the same size
   */
  public GradientEngine(GradientGraph graph, long chunkBytes) {
    this(graph, Memory.gradients(), chunkBytes);
  }

  /** As {@link #GradientEngine(GradientGraph, long)} with buffers reserved from {@code pool}. */
  public GradientEngine(GradientGraph graph, MemoryPool pool, long chunkBytes) {
    if (graph.parameterCount() > Integer.MAX_VALUE / 2) {
      throw LetheException.tooLarge("spec.erasable_parameters", "too many parameters: " + graph.parameterCount());
    }
    this.graph = graph;
    this.pool = pool;
    this.paramCount = (int) graph.parameterCount();
    this.paramSizes = new int[graph.parameters().size()];
    for (int i = 0; i < paramSizes.length; i++) {
      long count = 1;
      for (long d : graph.parameterShapes().get(i)) {
        count *= d;
      }
      paramSizes[i] = (int) count;
    }
    this.chunkBytes = chunkBytes;
    this.chunk = rows(graph);
    this.sessions = new GradientSessionCache(env, graph);
  }

  /**
   * The most samples per run of {@code g}: one for a per-sample graph, else as many [P] rows as
   * the chunk bytes hold; for a model with symbolic input dims the rows also count the batched
   * forward values at g's sizes (a long sequence's activations grow with it, its P does not).
   */
  private int rows(GradientGraph g) {
    if (g.perSample()) {
      return 1;
    }
    long perSample = 4L * paramCount;
    if (!g.sizes().isEmpty()) {
      perSample += 4L * g.activationFloats();
    }
    return (int) Math.max(1, Math.min(1 << 20, chunkBytes / perSample));
  }

  /**
   * The most samples per ORT run (a call of N samples runs min(N, this)); for a model with
   * symbolic input dims, at the registration's probe sizes (other sizes get their own).
   */
  public int chunkSize() {
    return chunk;
  }

  /** The graph given at construction (for symbolic input dims: at the registration's probe sizes). */
  public GradientGraph graph() {
    return graph;
  }

  /**
   * The sizes of the symbolic input dims whose graphs are built and kept (least recently used
   * first; at most {@link #SIZES_KEPT}); one empty list for a model without symbolic dims.
   */
  public List<List<Long>> sizesBuilt() {
    return sessions.sizesCached();
  }

  /** Graphs built for new sizes of the symbolic dims since construction (for tests and metrics). */
  long graphsBuilt() {
    return sessions.builds();
  }

  /**
   * Refuses a batch (checked by {@link SampleValidator}) whose inputs give one symbolic dimension
   * different sizes: INVALID_ARGUMENT naming {@code samples.inputs[x]} and the dimension. Every
   * call of this engine checks the same; a model without symbolic dims accepts any batch.
   */
  public void checkSizes(Samples batch) {
    if (!graph.symbolic().isEmpty()) {
      graph.symbolic().sizesOf(batch);
    }
  }

  /**
   * Per-sample losses, logits, gradients [N, P] and gradient norms.
   *
   * @param batch samples that passed {@link SampleValidator#check} with labels (not checked
   *     again)
   * @param params one direct, native-order FloatBuffer per erasable parameter in spec order,
   *     position..limit holding the parameter row-major; fed to ORT without copying
   * @throws IllegalArgumentException for malformed params (a caller bug)
   */
  public GradientResult compute(Samples batch, List<FloatBuffer> params) {
    return run(batch, params, null, true, null);
  }

  /**
   * As {@link #compute} but writes the gradients into {@code gradientsOut} (length at least
   * N·P, modified; returned as {@link GradientResult#gradients()}), so that repeated calls
   * allocate no gradient array.
   */
  public GradientResult computeInto(Samples batch, List<FloatBuffer> params, float[] gradientsOut) {
    return run(batch, params, null, true, gradientsOut);
  }

  /** Losses and gradient norms only; {@link GradientResult#gradients()} is null. */
  public GradientResult norms(Samples batch, List<FloatBuffer> params) {
    return run(batch, params, null, false, null);
  }

  /**
   * Per-sample gradients of ⟨v_n, z_n⟩ (no L2 term) for the cotangent v [N, C] at the flattened
   * logits; labels are not needed and losses are null.
   */
  public GradientResult computeWithCotangent(Samples batch, List<FloatBuffer> params, float[] cotangent) {
    if (cotangent == null) {
      throw LetheException.invalid("cotangent", "missing");
    }
    return run(batch, params, cotangent, true, null);
  }

  /**
   * The Kronecker factors' inputs for the cotangents v [N, C]: each {@link DenseLayer}'s inputs
   * and output cotangents, and the other parameters' per-sample gradients of ⟨v_n, z_n⟩ (no L2
   * term), in runs of as many samples as the chunk bytes hold.
   *
   * @throws IllegalStateException when the graph has no {@link GradientGraph#layers()}
   */
  public LayerFactors factors(Samples batch, List<FloatBuffer> params, float[] cotangent) {
    lock.readLock().lock();
    try {
      if (closed) {
        throw new IllegalStateException("gradient engine is closed");
      }
      return LayerFactorRun.run(this, batch, params, cotangent);
    } finally {
      lock.readLock().unlock();
    }
  }

  private GradientResult run(Samples batch, List<FloatBuffer> params, float[] cotangent, boolean full,
      float[] into) {
    lock.readLock().lock();
    try {
      if (closed) {
        throw new IllegalStateException("gradient engine is closed");
      }
      boolean cot = cotangent != null;
      // The batch passed SampleValidator at the request's edge; it is not checked again here.
      int n = batch.size();
      long c = graph.classes();
      if (cot) {
        if (cotangent.length != (long) n * c) {
          throw LetheException.invalid("cotangent", "holds " + cotangent.length + " values, expected " + n + " x " + c);
        }
        SampleValidator.checkFinite("cotangent", cotangent);
      }
      if (full && (long) n * paramCount > Integer.MAX_VALUE - 8) {
        throw LetheException.tooLarge("samples", n + " samples x " + paramCount + " parameters do not fit one array");
      }
      if (into != null && into.length < n * paramCount) {
        throw new IllegalArgumentException("gradientsOut holds " + into.length + " floats, need " + n * paramCount);
      }
      float[] grads = full ? (into != null ? into : new float[n * paramCount]) : null;
      GradientResult result = new GradientResult(n, paramCount, cot ? null : new float[n], new float[(int) (n * c)],
          grads, new float[n]);
      // The samples of one call share the symbolic dims' sizes (one tensor per input; inputs
      // naming the same dim_param must agree): one specialised graph runs them all.
      SymbolicDims symbolic = graph.symbolic();
      GradientSessions specialised = sessions.acquire(symbolic.isEmpty() ? List.of() : symbolic.sizesOf(batch));
      try {
        return run(specialised, batch, params, cotangent, full, grads, result);
      } finally {
        specialised.release();
      }
    } finally {
      lock.readLock().unlock();
    }
  }

  private GradientResult run(GradientSessions specialised, Samples batch, List<FloatBuffer> params,
      float[] cotangent, boolean full, float[] grads, GradientResult result) {
    int n = batch.size();
    GradientGraph graph = specialised.graph();
    OrtSession session = specialised.session(cotangent != null);
    List<OnnxTensor> paramTensors = new ArrayList<>();
    int rows = Math.max(1, Math.min(rows(graph), n));
    long activations = graph.sizes().isEmpty() ? 0 : graph.activationFloats();
    // The output block and ONNX Runtime's working memory for it (norms too: ORT computes the
    // [rows, P] gradients natively to take their norms).
    long bytes = (RUN_BLOCKS * paramCount + activations) * rows * Float.BYTES;
    try (MemoryPool.Reservation held = pool.reserve(bytes, "samples", "gradient buffers of "
        + rows + " samples x " + paramCount + " parameters"
        + (activations > 0 ? " and " + activations + " activations per sample at "
            + graph.symbolic().describe(graph.sizes()) : ""), WAIT_MILLIS)) {
      ByteBuffer[] raw = full ? new ByteBuffer[paramSizes.length] : null;
      FloatBuffer[] out = full ? allocate(rows, raw) : null;
      try {
        feedParams(params, paramTensors);
        for (int start = 0; start < n; start += rows) {
          runChunk(graph, session, batch, paramTensors, cotangent, start, Math.min(rows, n - start), out, result);
        }
      } catch (OrtException e) {
        throw new IllegalStateException("ONNX Runtime failed computing gradients: " + e.getMessage(), e);
      } finally {
        paramTensors.forEach(OnnxTensor::close);
        free(raw);
      }
    }
    return result;
  }

  void feedParams(List<FloatBuffer> params, List<OnnxTensor> into) throws OrtException {
    List<long[]> shapes = graph.parameterShapes();
    if (params.size() != shapes.size()) {
      throw new IllegalArgumentException("expected " + shapes.size() + " parameter buffers, got " + params.size());
    }
    for (int i = 0; i < shapes.size(); i++) {
      FloatBuffer b = params.get(i);
      long count = 1;
      for (long d : shapes.get(i)) {
        count *= d;
      }
      if (!b.isDirect() || b.order() != ByteOrder.nativeOrder() || b.remaining() != count) {
        throw new IllegalArgumentException("parameter " + graph.parameters().get(i)
            + ": expected a direct native-order buffer of " + count + " floats, got " + b);
      }
      into.add(OnnxTensor.createTensor(env, b.duplicate(), shapes.get(i)));
    }
  }

  private void runChunk(GradientGraph graph, OrtSession session, Samples batch, List<OnnxTensor> params, float[] cotangent,
      int start, int len, FloatBuffer[] out, GradientResult result) throws OrtException {
    Map<String, OnnxTensor> feeds = new HashMap<>();
    try {
      for (int i = 0; i < params.size(); i++) {
        feeds.put(graph.parameters().get(i), params.get(i));
      }
      for (GradientGraph.Input in : graph.inputs()) {
        feeds.put(in.name(), slice(batch.inputs().get(in.name()), start, len));
      }
      int c = (int) graph.classes();
      if (cotangent != null) {
        feeds.put(GradientGraph.COTANGENT,
            OnnxTensor.createTensor(env, FloatBuffer.wrap(cotangent, start * c, len * c), new long[] {len, c}));
      } else {
        DenseTensor labels = batch.labels();
        feeds.put(GradientGraph.LABELS, labels.isFloat()
            ? OnnxTensor.createTensor(env, FloatBuffer.wrap(labels.floats(), start * c, len * c), new long[] {len, c})
            : OnnxTensor.createTensor(env, LongBuffer.wrap(labels.longs(), start, len), new long[] {len}));
      }
      Set<String> wanted = cotangent == null
          ? Set.of(GradientGraph.LOSS, GradientGraph.LOGITS, GradientGraph.SQ_NORMS)
          : Set.of(GradientGraph.LOGITS, GradientGraph.SQ_NORMS);
      Map<String, OnnxTensor> pinned = new HashMap<>();
      try {
        if (out != null) {
          for (int i = 0; i < out.length; i++) {
            FloatBuffer view = out[i].duplicate().clear().limit(len * paramSizes[i]);
            long[] shape = GradContext.prepend(len, graph.parameterShapes().get(i));
            pinned.put(GradientGraph.GRAD_PREFIX + i, OnnxTensor.createTensor(env, view, shape));
          }
        }
        try (OrtSession.Result r = session.run(feeds, wanted, pinned)) {
          if (result.losses() != null) {
            floats(r, GradientGraph.LOSS).get(result.losses(), start, len);
          }
          floats(r, GradientGraph.LOGITS).get(result.logits(), start * c, len * c);
          FloatBuffer sq = floats(r, GradientGraph.SQ_NORMS);
          for (int i = 0; i < len; i++) {
            result.norms()[start + i] = (float) Math.sqrt(Math.max(0, sq.get(i)));
          }
        }
        if (out != null) {
          interleave(out, len, result.gradients(), start);
        }
      } finally {
        pinned.values().forEach(OnnxTensor::close);
      }
    } finally {
      for (Map.Entry<String, OnnxTensor> e : feeds.entrySet()) {
        if (!graph.parameters().contains(e.getKey())) {
          e.getValue().close();
        }
      }
    }
  }

  /** Copies per-parameter blocks [len, P_i] into rows start.. of the [N, P] result. */
  private void interleave(FloatBuffer[] out, int len, float[] dst, int start) {
    int offset = 0;
    for (int i = 0; i < out.length; i++) {
      int size = paramSizes[i];
      for (int s = 0; s < len; s++) {
        out[i].get(s * size, dst, (start + s) * paramCount + offset, size);
      }
      offset += size;
    }
  }

  static FloatBuffer floats(OrtSession.Result r, String name) {
    OnnxValue v = r.get(name).orElseThrow(() -> new IllegalStateException("no output " + name));
    return ((OnnxTensor) v).getFloatBuffer();
  }

  OnnxTensor slice(DenseTensor t, int start, int len) throws OrtException {
    long[] dims = t.dims().clone();
    long per = 1;
    for (int i = 1; i < dims.length; i++) {
      per *= dims[i];
    }
    dims[0] = len;
    int off = (int) (start * per);
    int count = (int) (len * per);
    return t.isFloat()
        ? OnnxTensor.createTensor(env, FloatBuffer.wrap(t.floats(), off, count), dims)
        : OnnxTensor.createTensor(env, LongBuffer.wrap(t.longs(), off, count), dims);
  }

  /**
   * One direct output buffer per parameter, [rows, P_i], inside the caller's reservation; the
   * underlying buffers go to {@code raw} for {@link #free}.
   */
  private FloatBuffer[] allocate(int rows, ByteBuffer[] raw) {
    FloatBuffer[] b = new FloatBuffer[paramSizes.length];
    try {
      for (int i = 0; i < b.length; i++) {
        raw[i] = ByteBuffer.allocateDirect(rows * paramSizes[i] * 4).order(ByteOrder.nativeOrder());
        b[i] = raw[i].asFloatBuffer();
      }
    } catch (OutOfMemoryError e) {
      free(raw);
      throw Memory.outOfMemory("gradient buffers of " + rows + " samples x " + paramCount
          + " parameters", e);
    }
    return b;
  }

  /** Frees the call's buffers now (their memory goes back with the reservation). */
  private static void free(ByteBuffer[] raw) {
    if (raw != null) {
      for (ByteBuffer b : raw) {
        Memory.free(b);
      }
    }
  }

  /** Closes the sessions; idempotent; waits for calls in flight. */
  @Override
  public void close() {
    lock.writeLock().lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      sessions.close();
    } finally {
      lock.writeLock().unlock();
    }
  }
}
