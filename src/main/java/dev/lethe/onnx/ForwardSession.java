package dev.lethe.onnx;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lethe.core.LetheException;
import dev.lethe.core.Samples;
import dev.lethe.core.DenseTensor;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Forward inference of a model's logits in ONNX Runtime, with the erasable parameters fed as
 * inputs: one session per model serves every version, no rebuild on a weight swap.
 *
 * <p>Owns its {@link OrtSession}; the caller closes this. Thread-safe ({@code OrtSession.run} is).
 * A model whose export fixed the batch dimension to 1 is run one sample at a time.
 */
public final class ForwardSession implements AutoCloseable {
  private final OrtEnvironment env;
  private final ModelGraph graph;
  private final OrtSession session;
  private final boolean perSample;

  private ForwardSession(OrtEnvironment env, ModelGraph graph, OrtSession session) {
    this.env = env;
    this.graph = graph;
    this.session = session;
    this.perSample = graph.inputs().stream().anyMatch(InputSpec::batchFixedToOne);
  }

  /**
   * Creates the session.
   *
   * @throws LetheException INVALID_ARGUMENT (field chunk) when ONNX Runtime cannot load the
   *     model, RESOURCE_EXHAUSTED when it takes longer than the session limit ({@link OrtSessions})
   */
  public static ForwardSession create(OrtEnvironment env, ModelGraph graph) {
    try {
      return new ForwardSession(env, graph, OrtSessions.create(env, parametrised(graph), 0));
    } catch (OrtException e) {
      throw LetheException.invalid("chunk", "ONNX Runtime cannot load the model: " + e.getMessage());
    }
  }

  /** The forward model with the erasable parameters as graph inputs and the logits as an output. */
  static OnnxMl.ModelProto parametrised(ModelGraph graph) {
    OnnxMl.GraphProto.Builder g = graph.model().getGraph().toBuilder();
    Set<String> params = Set.copyOf(graph.parameterNames());
    List<OnnxMl.TensorProto> kept = new ArrayList<>();
    for (OnnxMl.TensorProto t : g.getInitializerList()) {
      if (!params.contains(t.getName())) {
        kept.add(t);
      }
    }
    g.clearInitializer().addAllInitializer(kept);
    Set<String> declared = new java.util.HashSet<>();
    g.getInputList().forEach(v -> declared.add(v.getName()));
    for (ParameterSpec p : graph.parameters()) {
      if (!declared.contains(p.name())) {
        g.addInput(tensorInfo(p.name(), p.dims()));
      }
    }
    if (g.getOutputList().stream().noneMatch(v -> v.getName().equals(graph.logits()))) {
      g.addOutput(tensorInfo(graph.logits(), null));
    }
    return graph.model().toBuilder().setGraph(g).build();
  }

  private static OnnxMl.ValueInfoProto tensorInfo(String name, long[] dims) {
    OnnxMl.TypeProto.Tensor.Builder t =
        OnnxMl.TypeProto.Tensor.newBuilder().setElemType(OnnxMl.TensorProto.DataType.FLOAT_VALUE);
    if (dims != null) {
      OnnxMl.TensorShapeProto.Builder shape = OnnxMl.TensorShapeProto.newBuilder();
      for (long d : dims) {
        shape.addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
      }
      t.setShape(shape);
    }
    return OnnxMl.ValueInfoProto.newBuilder()
        .setName(name)
        .setType(OnnxMl.TypeProto.newBuilder().setTensorType(t))
        .build();
  }

  /** Logits and their per-sample shape. */
  public record Logits(float[] values, long[] perSampleDims) {}

  /**
   * Runs the batch (already checked by {@link BatchValidator#checkInputs}) with the given
   * parameters (spec order, direct little-endian buffers; not modified).
   */
  public Logits logits(Samples batch, int n, List<FloatBuffer> params) {
    if (!perSample) {
      return run(batch.inputs(), params, 0, n);
    }
    Logits first = null;
    float[] all = null;
    for (int i = 0; i < n; i++) {
      Logits one = run(batch.inputs(), params, i, i + 1);
      if (first == null) {
        first = one;
        all = new float[n * one.values().length];
      }
      System.arraycopy(one.values(), 0, all, i * one.values().length, one.values().length);
    }
    return new Logits(all, first.perSampleDims());
  }

  /**
   * Logits of one all-zero sample: checks that the model runs and tells the output shape. A
   * symbolic dimension after the batch (a sequence length) is fed at
   * {@link SymbolicDims#PROBE_SIZE}, or at {@link SymbolicDims#FALLBACK_PROBE_SIZE} if the model
   * cannot run there, as the gradient graph's registration build does.
   */
  public long[] probeOutputDims(List<FloatBuffer> params) {
    try {
      return probeOutputDims(params, SymbolicDims.PROBE_SIZE);
    } catch (LetheException first) {
      try {
        return probeOutputDims(params, SymbolicDims.FALLBACK_PROBE_SIZE);
      } catch (LetheException again) {
        throw first;
      }
    }
  }

  private long[] probeOutputDims(List<FloatBuffer> params, long length) {
    Map<String, DenseTensor> zeros = new HashMap<>();
    for (InputSpec in : graph.inputs()) {
      long[] dims = in.dims().clone();
      long count = 1;
      for (int i = 0; i < dims.length; i++) {
        dims[i] = dims[i] < 0 ? length : dims[i];
        if (i == 0) {
          dims[0] = 1;
        }
        count *= dims[i];
      }
      zeros.put(in.name(), in.isFloat()
          ? DenseTensor.ofFloats(dims, new float[(int) count])
          : DenseTensor.ofLongs(dims, new long[(int) count]));
    }
    try {
      return run(zeros, params, 0, 1).perSampleDims();
    } catch (LetheException e) {
      throw LetheException.invalid("chunk", "the model does not run in ONNX Runtime on a zero "
          + "sample: " + e.getMessage());
    }
  }

  private Logits run(Map<String, DenseTensor> inputs, List<FloatBuffer> params, int from, int to) {
    Map<String, OnnxTensor> feed = new HashMap<>();
    try {
      for (InputSpec in : graph.inputs()) {
        feed.put(in.name(), slice(inputs.get(in.name()), from, to));
      }
      for (int p = 0; p < params.size(); p++) {
        ParameterSpec spec = graph.parameters().get(p);
        feed.put(spec.name(), OnnxTensor.createTensor(env, params.get(p).duplicate(), spec.dims()));
      }
      try (OrtSession.Result result = session.run(feed, Set.of(graph.logits()))) {
        OnnxTensor out = (OnnxTensor) result.get(0);
        long[] shape = out.getInfo().getShape();
        if (shape.length == 0 || shape[0] != to - from) {
          throw new LetheException(LetheException.Kind.FAILED_PRECONDITION,
              "logits '" + graph.logits() + "' do not have the batch as first dimension: shape "
                  + java.util.Arrays.toString(shape));
        }
        FloatBuffer values = out.getFloatBuffer();
        float[] array = new float[values.remaining()];
        values.get(array);
        return new Logits(array, java.util.Arrays.copyOfRange(shape, 1, shape.length));
      }
    } catch (OrtException e) {
      throw LetheException.invalid("samples",
          "ONNX Runtime could not run the model on these samples: " + e.getMessage());
    } finally {
      feed.values().forEach(OnnxTensor::close);
    }
  }

  private OnnxTensor slice(DenseTensor t, int from, int to) throws OrtException {
    long[] dims = t.dims().clone();
    int rows = (int) dims[0];
    dims[0] = to - from;
    int width = rows == 0 ? 0 : t.length() / rows;
    if (t.isFloat()) {
      return OnnxTensor.createTensor(env, FloatBuffer.wrap(t.floats(), from * width, (to - from) * width).slice(), dims);
    }
    return OnnxTensor.createTensor(env, LongBuffer.wrap(t.longs(), from * width, (to - from) * width).slice(), dims);
  }

  @Override
  public void close() {
    try {
      session.close();
    } catch (OrtException e) {
      throw new IllegalStateException("closing ONNX Runtime session failed", e);
    }
  }
}
