package dev.lethe.spark;

import ai.onnxruntime.OrtEnvironment;
import dev.lethe.client.LetheClient;
import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelFormat;
import dev.lethe.core.Samples;
import dev.lethe.eval.Evaluation;
import dev.lethe.fisher.ModelView;
import dev.lethe.onnx.ForwardSession;
import dev.lethe.onnx.GradientEngine;
import dev.lethe.onnx.GradientGraph;
import dev.lethe.onnx.GraphLimits;
import dev.lethe.onnx.InputSpec;
import dev.lethe.onnx.ModelGraph;
import dev.lethe.onnx.ParameterSpec;
import dev.lethe.onnx.SampleValidator;
import dev.lethe.onnx.WeightSplicer;
import dev.lethe.store.ModelState;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One model version as an executor sees it: the ONNX file fetched from the sidecar (GetModel,
 * with the token), the gradient graph Lethe builds for it ({@link GradientGraph#build} with the
 * spec's logits, loss, erasable parameters and L2 term, as registration and the store's ONNX
 * backend build it), run by ONNX Runtime in this JVM, and the forward session for the logits.
 * Implements {@link ModelView} so the Fisher rows are made by the very code a BuildFisher uses.
 *
 * <p>One instance per (sidecar, model, version) and JVM ({@link #of}), kept for the executor's
 * life so its partitions share the sessions; thread-safe (ONNX Runtime sessions are). TorchScript
 * models are refused (FAILED_PRECONDITION): executors run ONNX Runtime only.
 */
public final class ExecutorModel implements ModelView {
  private static final ConcurrentHashMap<String, ExecutorModel> CACHE = new ConcurrentHashMap<>();

  private final ModelState state;
  private final LossFunction loss;
  private final List<InputSpec> inputs;
  private final List<long[]> shapes;
  private final long parameterCount;
  private final double l2;
  private final GradientEngine engine;
  private final ForwardSession forward;
  private final List<FloatBuffer> weights;

  private ExecutorModel(ModelState state, byte[] file) {
    if (state.spec().format() == ModelFormat.TORCHSCRIPT) {
      throw LetheException.precondition("model " + state.name() + " is TorchScript: the Spark job"
          + " runs ONNX Runtime on its executors; build its Fisher with BuildFisher");
    }
    this.state = state;
    this.loss = state.spec().loss();
    this.inputs = state.inputs();
    this.l2 = state.spec().resolved().l2();
    ModelGraph graph = ModelGraph.inspect(file, state.spec().logitsOutput(),
        state.spec().erasableParameters(), state.spec().frozenPrefix(), GraphLimits.unbounded());
    List<ParameterSpec> params = graph.parameters();
    this.shapes = params.stream().map(p -> p.dims().clone()).toList();
    long[] counts = params.stream().mapToLong(ParameterSpec::elementCount).toArray();
    this.parameterCount = graph.parameterCount();
    byte[] w = WeightSplicer.split(file, graph.parameterNames(), counts).weights();
    ByteBuffer direct = ByteBuffer.allocateDirect(w.length).order(ByteOrder.LITTLE_ENDIAN);
    direct.put(w).flip();
    List<FloatBuffer> buffers = new ArrayList<>();
    long offset = 0;
    for (long c : counts) {
      buffers.add(direct.duplicate().order(ByteOrder.LITTLE_ENDIAN).position((int) offset)
          .limit((int) (offset + 4 * c)).slice().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer());
      offset += 4 * c;
    }
    this.weights = List.copyOf(buffers);
    this.engine = new GradientEngine(GradientGraph.build(graph.model(), graph.logits(), loss,
        graph.parameterNames(), l2));
    this.forward = ForwardSession.create(OrtEnvironment.getEnvironment(), graph);
  }

  /**
   * The model {@code name} at {@code version} (0 = active, resolved by the sidecar), fetched once
   * per JVM.
   */
  public static ExecutorModel of(Sidecar sidecar, String name, long version) {
    String key = sidecar.target() + "|" + name + "|" + version;
    return CACHE.computeIfAbsent(key, k -> fetch(sidecar, name, version));
  }

  private static ExecutorModel fetch(Sidecar sidecar, String name, long version) {
    try (LetheClient client = sidecar.connect()) {
      ModelState state = client.describe(name);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      client.getModel(name, version, out);
      return new ExecutorModel(state, out.toByteArray());
    } catch (IOException e) {
      throw new UncheckedIOException("fetching model " + name + " version " + version + " from "
          + sidecar.target(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted closing the sidecar client", e);
    }
  }

  /** The model's state as the sidecar described it when this executor fetched it. */
  public ModelState state() {
    return state;
  }

  public List<InputSpec> inputs() {
    return inputs;
  }

  @Override
  public LossFunction loss() {
    return loss;
  }

  @Override
  public int classes() {
    long c = 1;
    for (long d : state.outputDims()) {
      c *= d;
    }
    return (int) c;
  }

  @Override
  public List<long[]> parameterShapes() {
    return shapes.stream().map(long[]::clone).toList();
  }

  @Override
  public long parameterCount() {
    return parameterCount;
  }

  @Override
  public Samples check(Samples samples, boolean needLabels) {
    SampleValidator.check(inputs, loss, state.outputDims(), samples, needLabels);
    engine.checkSizes(samples);
    return samples;
  }

  @Override
  public float[] gradients(Samples checked) {
    return engine.compute(checked, weights).gradients();
  }

  @Override
  public float[] logits(Samples checked) {
    return forward.logits(checked, checked.size(), weights).values();
  }

  @Override
  public float[] cotangentGradients(Samples checked, float[] cotangent) {
    return engine.computeWithCotangent(checked, weights, cotangent).gradients();
  }

  @Override
  public List<dev.lethe.fisher.KroneckerLayer> kroneckerLayers() {
    return engine.graph().layers().stream().map(l -> new dev.lethe.fisher.KroneckerLayer(
        l.weight(), l.bias(), l.out(), l.in(), l.outMajor(), l.alpha(), l.beta(), l.positions()))
        .toList();
  }

  @Override
  public int[] otherParameters() {
    return engine.graph().otherParameters();
  }

  /** The FACTORS run of the same gradient graph a sidecar's ONNX backend runs. */
  @Override
  public dev.lethe.fisher.LayerInputs layerInputs(Samples checked, float[] cotangent) {
    if (kroneckerLayers().isEmpty()) {
      return ModelView.super.layerInputs(checked, cotangent);
    }
    dev.lethe.onnx.LayerFactors f = engine.factors(checked, weights, cotangent);
    return new dev.lethe.fisher.LayerInputs(f.samples(), f.inputs(), f.cotangents(), f.others(),
        f.otherColumns());
  }

  @Override
  public double meanLoss(Samples checked, float[] weightsOrNull) {
    throw new UnsupportedOperationException("an executor's model makes Fisher rows only");
  }

  @Override
  public Evaluation evaluate(Samples checked, float[] weightsOrNull) {
    throw new UnsupportedOperationException("an executor's model makes Fisher rows only");
  }
}
