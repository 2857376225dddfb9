package dev.lethe.torch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import dev.lethe.onnx.GradientResult;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;

/**
 * Per-sample derivatives of a TorchScript module by PyTorch autograd (through DJL): gradients of
 * the spec's loss (with the L2 term μθ on the erasable parameters, as the ONNX path), gradients
 * of ⟨v, z⟩ for a cotangent v (the TRUE and MONTE_CARLO Fisher rows), and forward logits, all at
 * parameter values the caller passes per call.
 *
 * <p>Per-sample gradients come from one forward and one backward per sample (batch of one, eval
 * mode): autograd sums over a batch, and a module's ops need not be batch-independent in train
 * mode. The backward starts from dL/dz computed in closed form ({@link LossHead}).
 *
 * <p>Shapes: N samples, P erasable entries (spec order, each parameter row-major), C flattened
 * logits per sample. Returned arrays belong to the caller.
 *
 * <p>Memory: every tensor a call makes lives in an NDManager scope closed before the call
 * returns; each parameter's gradient is read, then zeroed in place (module.zero_grad), so nothing
 * accumulates across calls. Threading: calls are serialised on the module (its parameters are
 * shared state); grad mode, which libtorch keeps per thread, is restored when a call returns.
 * Owns the module: {@link #close()} frees it.
 */
public final class TorchGradients implements AutoCloseable {
  private final TorchModule module;
  private final List<String> inputs;
  private final List<String> erasable;
  private final int[] sizes;
  private final long paramCount;
  private final String logits;
  private final LossFunction loss;
  private Object loaded; // identity of the parameter values in the module
  private final List<String> lastUnreached = new java.util.ArrayList<>();
  private boolean closed;

  /**
   * @param inputs the forward method's data arguments, in order (names of {@link Samples#inputs})
   * @param erasable erasable parameters (state_dict names, spec order); every other parameter is
   *     frozen (requires_grad off)
   * @param logits the output holding the logits ("" = the single output)
   */
  public TorchGradients(TorchModule module, List<String> inputs, List<String> erasable,
      String logits, LossFunction loss) {
    this.module = module;
    this.inputs = List.copyOf(inputs);
    this.erasable = List.copyOf(erasable);
    this.logits = logits;
    this.loss = loss;
    this.sizes = new int[erasable.size()];
    long p = 0;
    for (int i = 0; i < sizes.length; i++) {
      long n = 1;
      for (long d : module.parameterDims(erasable.get(i))) {
        n *= d;
      }
      sizes[i] = Math.toIntExact(n);
      p += n;
    }
    this.paramCount = p;
    module.requireGradOnly(erasable);
  }

  public long parameterCount() {
    return paramCount;
  }

  /**
   * Per-sample losses (data + μ/2 |θ|²), logits, gradients [N, P] (null unless {@code full}) and
   * gradient norms, for labelled samples already checked against the model.
   *
   * @param params one buffer per erasable parameter (spec order), read, not kept
   * @param identity the values' identity (e.g. the version's weights object): the same identity
   *     as the previous call skips copying them into the module again; null always copies
   * @param l2 μ, the L2 coefficient of the training loss (μ/2 |θ|² per sample, over the erasable
   *     parameters)
   */
  public GradientResult compute(Samples batch, List<FloatBuffer> params, Object identity, double l2,
      boolean full) {
    return run(batch, params, identity, null, l2, full);
  }

  /** Per-sample gradients of ⟨v_n, z_n⟩ (no L2 term) for v [N, C]; losses are null. */
  public GradientResult cotangent(Samples batch, List<FloatBuffer> params, Object identity,
      float[] cotangent) {
    if (cotangent == null) {
      throw LetheException.invalid("cotangent", "missing");
    }
    return run(batch, params, identity, cotangent, 0, true);
  }

  /** Logits [N, C] of checked samples, without autograd; also their per-sample shape. */
  public synchronized Logits logits(Samples batch, List<FloatBuffer> params, Object identity) {
    ensureOpen();
    load(params, identity);
    int n = batch.size();
    boolean grad = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try (NDManager scope = module.newScope()) {
      float[] all = null;
      long[] dims = null;
      int chunk = 256;
      for (int start = 0; start < n; start += chunk) {
        int len = Math.min(chunk, n - start);
        NDArray z = TorchModule.select(module.forward(scope, data(batch), start, len), logits);
        checkFloating(z);
        long[] shape = z.getShape().getShape();
        if (shape.length == 0 || shape[0] != len) {
          throw LetheException.invalid("spec.logits_output", "the logits do not have the batch as "
              + "first dimension: shape " + Arrays.toString(shape) + " for " + len + " samples");
        }
        float[] v = z.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        if (all == null) {
          dims = Arrays.copyOfRange(shape, 1, shape.length);
          all = new float[Math.multiplyExact(n, v.length / len)];
        }
        System.arraycopy(v, 0, all, start * (v.length / len), v.length);
        scopeClear(scope);
      }
      return new Logits(all, dims);
    } finally {
      JniUtils.setGradMode(grad);
    }
  }

  /**
   * The erasable parameters the loss of the first sample does not reach (autograd leaves their
   * gradient undefined): the registration's warm-up, which also builds the backward once.
   */
  public synchronized List<String> unreached(Samples labelled, List<FloatBuffer> params, Object identity) {
    Samples one = labelled;
    run(one, params, identity, null, 0, false);
    return List.copyOf(lastUnreached);
  }

  /** Logits [N, C] and their per-sample shape. */
  public record Logits(float[] values, long[] perSampleDims) {}

  private synchronized GradientResult run(Samples batch, List<FloatBuffer> params, Object identity,
      float[] cotangent, double l2, boolean full) {
    ensureOpen();
    load(params, identity);
    int n = batch.size();
    if (full && (long) n * paramCount > Integer.MAX_VALUE - 8) {
      throw LetheException.tooLarge("samples", n + " samples x " + paramCount
          + " parameters do not fit one array");
    }
    float[] grads = full ? new float[(int) (n * paramCount)] : null;
    float[] losses = cotangent == null ? new float[n] : null;
    float[] norms = new float[n];
    float[] allLogits = null;
    double decay = 0;
    float[][] theta = null;
    if (cotangent == null && l2 > 0) {
      theta = new float[erasable.size()][];
      for (int p = 0; p < theta.length; p++) {
        theta[p] = new float[sizes[p]];
        params.get(p).duplicate().get(theta[p]);
        for (float v : theta[p]) {
          decay += (double) v * v;
        }
      }
      decay *= l2 / 2;
    }
    List<DenseTensor> data = data(batch);
    lastUnreached.clear();
    boolean grad = JniUtils.isGradMode();
    JniUtils.setGradMode(true);
    float[] row = new float[(int) Math.min(paramCount, Integer.MAX_VALUE - 8)];
    try (NDManager scope = module.newScope()) {
      for (int i = 0; i < n; i++) {
        NDArray z = TorchModule.select(module.forward(scope, data, i, 1), logits);
        checkFloating(z);
        long[] shape = z.getShape().getShape();
        if (shape.length == 0 || shape[0] != 1) {
          throw LetheException.invalid("spec.logits_output", "the logits do not have the batch as "
              + "first dimension: shape " + Arrays.toString(shape) + " for one sample");
        }
        float[] zv = z.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        int c = zv.length;
        if (allLogits == null) {
          allLogits = new float[Math.multiplyExact(n, c)];
          if (cotangent != null && cotangent.length != (long) n * c) {
            throw LetheException.invalid("cotangent", "holds " + cotangent.length
                + " values, expected " + n + " x " + c);
          }
        }
        System.arraycopy(zv, 0, allLogits, i * c, c);
        float[] gz = new float[c];
        if (cotangent == null) {
          losses[i] = (float) (LossHead.lossAndGradient(loss, zv, 0, c, batch.labels(), i, gz) + decay);
        } else {
          System.arraycopy(cotangent, i * c, gz, 0, c);
        }
        NDArray seed = scope.create(gz, z.getShape());
        if (z.getDataType() != seed.getDataType()) {
          seed = seed.toType(z.getDataType(), false);
        }
        boolean connected = true;
        try {
          JniUtils.backward((PtNDArray) z, (PtNDArray) seed, false, false);
        } catch (ai.djl.engine.EngineException e) {
          // logits that depend on no erasable parameter have no graph to go back through
          // (DJL's requiresGrad reads only a leaf's flag, so the backward itself is the test)
          if (e.getMessage() == null || !e.getMessage().contains("does not require grad")) {
            throw e;
          }
          connected = false;
        }
        double sq = 0;
        int off = 0;
        for (int p = 0; p < sizes.length; p++) {
          PtNDArray param = module.parameter(erasable.get(p));
          PtNDArray g = connected ? JniUtils.getGradient(param) : null;
          if (g == null) {
            Arrays.fill(row, off, off + sizes[p], 0f); // not on the path to the logits
            if (i == 0) {
              lastUnreached.add(erasable.get(p));
            }
          } else {
            try (g) {
              float[] gv = g.toFloatArray();
              System.arraycopy(gv, 0, row, off, sizes[p]);
            }
            JniUtils.zeroGrad(param);
          }
          if (theta != null) {
            float[] t = theta[p];
            for (int k = 0; k < sizes[p]; k++) {
              row[off + k] = (float) (row[off + k] + l2 * t[k]);
            }
          }
          for (int k = 0; k < sizes[p]; k++) {
            sq += (double) row[off + k] * row[off + k];
          }
          off += sizes[p];
        }
        norms[i] = (float) Math.sqrt(sq);
        if (grads != null) {
          System.arraycopy(row, 0, grads, (int) (i * paramCount), (int) paramCount);
        }
        scopeClear(scope);
      }
    } finally {
      JniUtils.setGradMode(grad);
    }
    return new GradientResult(n, paramCount, losses, allLogits, grads, norms);
  }

  /** The logits must be floating point (an index or mask output is not differentiable). */
  private static void checkFloating(NDArray z) {
    if (!z.getDataType().isFloating()) {
      throw LetheException.invalid("spec.logits_output", "the logits output is "
          + z.getDataType() + "; it must be a floating-point tensor");
    }
  }

  /** Frees the tensors of one sample before the next (the scope itself is closed at the end). */
  private static void scopeClear(NDManager scope) {
    for (NDArray a : scope.getManagedArrays()) {
      a.close();
    }
  }

  private List<DenseTensor> data(Samples batch) {
    return inputs.stream().map(batch.inputs()::get).toList();
  }

  private void load(List<FloatBuffer> params, Object identity) {
    if (identity != null && identity == loaded) {
      return;
    }
    if (params.size() != erasable.size()) {
      throw new IllegalArgumentException("expected " + erasable.size() + " parameter buffers, got "
          + params.size());
    }
    loaded = null;
    for (int p = 0; p < params.size(); p++) {
      if (params.get(p).remaining() != sizes[p]) {
        throw new IllegalArgumentException("parameter " + erasable.get(p) + ": expected "
            + sizes[p] + " floats, got " + params.get(p).remaining());
      }
      module.setParameter(erasable.get(p), params.get(p));
    }
    loaded = identity;
  }

  /** Tensors attached to the module's manager (its parameters; per-call tensors are freed). */
  synchronized int moduleTensors() {
    return module.managedTensors();
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("TorchScript gradients are closed");
    }
  }

  /** Frees the module. Idempotent; waits for a call in flight. */
  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      module.close();
    }
  }

  /** The shape of a tensor, for messages. */
  static String shape(Shape s) {
    return Arrays.toString(s.getShape());
  }
}
