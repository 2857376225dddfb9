package dev.lethe.onnx;

import ai.onnx.proto.OnnxMl;
import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import dev.lethe.onnx.grad.Backward;
import dev.lethe.onnx.grad.Emitter;
import dev.lethe.onnx.grad.GradContext;
import dev.lethe.onnx.grad.ValueMeta;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The backward graphs of one forward ONNX model: for a batch of N samples they compute the
 * per-sample loss and the per-sample gradient of every erasable parameter in one ONNX Runtime
 * run. Built once per registered model; immutable and thread-safe.
 *
 * <p>Two variants share the construction:
 *
 * <ul>
 *   <li>{@link Seed#LOSS}: inputs = the model's fed inputs, every erasable parameter (by its
 *       initializer name, FLOAT, its initializer shape; removed from the initializers) and
 *       {@value #LABELS} (int64 [N] class indices for softmax cross-entropy, float [N, C]
 *       otherwise). Outputs: {@value #LOSS} [N] = data loss + μ/2·Σ|θ|² over the erasable
 *       parameters; {@value #LOGITS} [N, C]; {@value #GRAD_PREFIX}i [N, …shape of parameter i]
 *       for the i-th parameter in spec order; {@value #SQ_NORMS} [N] (squared L2 norm of each
 *       sample's whole gradient). There is deliberately no concatenated [N, P] output: ORT
 *       runs every node of a graph, and a Concat would cost a full extra pass over N·P floats;
 *       {@link GradientEngine} interleaves the per-parameter outputs into [N, P] while copying
 *       them out.
 *   <li>{@link Seed#COTANGENT}: instead of labels, {@value #COTANGENT} float [N, C] is the
 *       cotangent v at the flattened logits; the gradient outputs hold ∂⟨v, z⟩/∂θ per sample
 *       (no L2 term). For the true Fisher with C classes, feed each sample C times with v the
 *       columns of a square root of diag(p) − ppᵀ. There is no {@value #LOSS} output.
 * </ul>
 *
 * C is the number of logits elements per sample (the logits value is flattened after axis 0).
 * Models whose fed inputs fix the batch dimension to 1 are made batch-symbolic when every
 * batched value keeps the batch on axis 0 after the change (constant Reshape targets starting
 * with 1 become 0); otherwise {@link #perSample()} is true and the graph runs one sample at a time.
 * It is also true when a value on the differentiated path carries the batch on another axis
 * (attention's [S, N, E]): with one sample per run such a value is a static tensor whose per-sample
 * gradient [1] + shape has the value's own layout, so every rule applies unchanged.
 *
 * <p>Symbolic input dimensions after the batch (a dynamic sequence length, {@link SymbolicDims}):
 * a graph is built for concrete sizes of them ({@link #sizes()}); {@link #build} uses
 * {@link SymbolicDims#PROBE_SIZE} (or {@link SymbolicDims#FALLBACK_PROBE_SIZE}) and
 * {@link #specialise} builds the graph of the same model for other sizes. Parameters and the
 * logits' size are the same at every size; {@link #inputs()} reports -1 for a symbolic dim.
 */
public final class GradientGraph {
  public static final String LABELS = "lethe_labels";
  public static final String COTANGENT = "lethe_cotangent";
  public static final String LOSS = "lethe_loss";
  public static final String LOGITS = "lethe_logits";
  public static final String SQ_NORMS = "lethe_grad_sq_norms";
  public static final String GRAD_PREFIX = "lethe_grad_";
  /** Outputs of the {@link Seed#FACTORS} graph: layer i's input a [N, in]. */
  public static final String LAYER_INPUT_PREFIX = "lethe_kin_";
  /** Outputs of the {@link Seed#FACTORS} graph: the cotangent δ [N, out] at layer i's output. */
  public static final String LAYER_COTANGENT_PREFIX = "lethe_kout_";

  /** Where the backward pass starts. */
  public enum Seed {
    LOSS,
    COTANGENT,
    /**
     * As {@link #COTANGENT}, but instead of the per-sample outer products of the
     * {@link #layers()} it outputs each layer's input ({@value #LAYER_INPUT_PREFIX}i) and output
     * cotangent ({@value #LAYER_COTANGENT_PREFIX}i), and the gradients ({@value #GRAD_PREFIX}i)
     * of the other erasable parameters only; nodes no output needs are pruned.
     */
    FACTORS
  }

  /**
   * A fed input of the model: name, FLOAT or INT64 (ONNX DataType number), per-sample dims (-1 for
   * a symbolic one).
   */
  public record Input(String name, int elemType, long[] sampleDims) {}

  private final LossFunction loss;
  private final double l2;
  private final List<String> params;
  private final List<long[]> paramShapes;
  private final long parameterCount;
  private final long classes;
  private final List<Input> inputs;
  private final boolean perSample;
  private final OnnxMl.ModelProto lossModel;
  private final OnnxMl.ModelProto cotangentModel;
  private final List<DenseLayer> layers;
  private final OnnxMl.ModelProto factorsModel;
  // the symbolic dims after the batch: source and logits rebuild the graph for other sizes
  private final SymbolicDims symbolic;
  private final List<Long> sizes;
  private final OnnxMl.ModelProto source;
  private final String logitsName;
  private final long activationFloats;

  private GradientGraph(ForwardAnalysis fa, String logits, LossFunction loss, List<String> params, double l2,
      OnnxMl.ModelProto source, SymbolicDims symbolic, List<Long> sizes) {
    // kept only to specialise: a model without symbolic dims holds no copy of its weights here
    this.source = symbolic.isEmpty() ? null : source;
    this.symbolic = symbolic;
    this.sizes = List.copyOf(sizes);
    this.logitsName = logits;
    long act = 0;
    for (String v : fa.ancestors) {
      ValueMeta m = fa.meta.get(v);
      if (m != null && m.batched() && m.elemType() == OnnxMl.TensorProto.DataType.FLOAT_VALUE) {
        act += m.sampleSize();
      }
    }
    this.activationFloats = act;
    this.loss = loss;
    this.l2 = l2;
    this.params = List.copyOf(params);
    List<long[]> shapes = new ArrayList<>();
    long p = 0;
    for (String name : params) {
      long[] s = fa.meta.get(name).shape();
      shapes.add(s);
      p += Arrays.stream(s).reduce(1, (a, b) -> a * b);
    }
    this.paramShapes = List.copyOf(shapes);
    this.parameterCount = p;
    this.classes = fa.meta.get(logits).sampleSize();
    List<Input> ins = new ArrayList<>();
    for (OnnxMl.ValueInfoProto in : fa.dataInputs) {
      ValueMeta m = fa.meta.get(in.getName());
      long[] dims = m.sampleShape();
      symbolic.axes().stream().filter(a -> a.input().equals(in.getName())).forEach(a -> dims[a.axis() - 1] = -1);
      ins.add(new Input(in.getName(), m.elemType(), dims));
    }
    this.inputs = List.copyOf(ins);
    this.perSample = fa.perSample;
    this.lossModel = emit(fa, logits, Seed.LOSS);
    this.cotangentModel = emit(fa, logits, Seed.COTANGENT);
    // a Conv's positions follow symbolic input dims: only fixed-size layers are factored there
    this.layers = DenseLayers.find(fa, params).stream()
        .filter(l -> symbolic.isEmpty() || l.positions() == 1).toList();
    this.factorsModel = layers.isEmpty() ? null : emit(fa, logits, Seed.FACTORS);
  }

  /**
   * Builds the backward graphs, or refuses with {@link LetheException} INVALID_ARGUMENT: field
   * {@code spec.erasable_parameters} for a name that is not a FLOAT initializer (or is listed
   * twice), {@code spec.logits_output} for an unknown logits value, {@code model} for an op on
   * the differentiated path that is not supported (the message names the node, the op and the
   * supported set), an opset older than 13, or inputs Lethe cannot feed. Runs the model twice
   * through ONNX Runtime on synthetic inputs to learn shapes (milliseconds for small models).
   *
   * @param model forward model with the erasable parameters as FLOAT initializers; not modified
   * @param logits name of any value of the graph (not necessarily an output) holding the logits
   * @param loss the per-sample training loss
   * @param erasable initializer names in spec order
   * @param l2 μ, the L2 coefficient of the training loss (μ/2 |θ|² per sample)
   */
  public static GradientGraph build(OnnxMl.ModelProto model, String logits, LossFunction loss, List<String> erasable,
      double l2) {
    if (erasable.isEmpty()) {
      throw LetheException.invalid(ForwardAnalysis.PARAMS, "no erasable parameters");
    }
    if (!(l2 >= 0) || Double.isInfinite(l2)) {
      throw LetheException.invalid("spec.l2", "must be finite and >= 0, got " + l2);
    }
    SymbolicDims symbolic = SymbolicDims.of(model);
    if (symbolic.isEmpty()) {
      return analysed(model, model, logits, loss, erasable, l2, symbolic, List.of());
    }
    // Specialised to a probe size (its graph is kept: the engine's first entry); the logits must
    // not change size with the symbolic dims (their size is the model's class count).
    List<Long> probe = symbolic.uniform(SymbolicDims.PROBE_SIZE);
    GradientGraph g;
    try {
      g = analysed(model, symbolic.specialise(model, probe), logits, loss, erasable, l2, symbolic, probe);
    } catch (LetheException first) {
      probe = symbolic.uniform(SymbolicDims.FALLBACK_PROBE_SIZE);
      try {
        g = analysed(model, symbolic.specialise(model, probe), logits, loss, erasable, l2, symbolic, probe);
      } catch (LetheException again) {
        throw first;
      }
    }
    g.checkLogitsFixed();
    return g;
  }

  private static GradientGraph analysed(OnnxMl.ModelProto source, OnnxMl.ModelProto model, String logits,
      LossFunction loss, List<String> erasable, double l2, SymbolicDims symbolic, List<Long> sizes) {
    ForwardAnalysis fa = new ForwardAnalysis(model, logits, erasable);
    ValueMeta lm = fa.meta.get(logits);
    if (loss.hasClassLabels() && lm.sampleSize() < 2) {
      throw LetheException.invalid(ForwardAnalysis.LOGITS, "softmax cross-entropy needs at least 2 logits per sample");
    }
    return new GradientGraph(fa, logits, loss, erasable, l2, source, symbolic, sizes);
  }

  /**
   * Refuses (INVALID_ARGUMENT, field {@code spec.logits_output}) logits whose size follows the
   * symbolic dims: probed forward at one more than the graph's sizes. A model ONNX Runtime
   * cannot run there is left to {@link #specialise}, which checks the same at every size.
   */
  private void checkLogitsFixed() {
    List<Long> other = sizes.stream().map(v -> v + 1).toList();
    OnnxMl.ModelProto m = symbolic.specialise(source, other);
    java.util.Map<String, ShapeProbe.Probed> probed;
    try {
      List<OnnxMl.ValueInfoProto> fed = m.getGraph().getInputList().stream()
          .filter(in -> inputs.stream().anyMatch(i -> i.name().equals(in.getName()))).toList();
      probed = ShapeProbe.run(m, fed, 1);
    } catch (ai.onnxruntime.OrtException | RuntimeException e) {
      return;
    }
    ShapeProbe.Probed z = probed.get(logitsName);
    long c = z == null ? -1 : Arrays.stream(z.dims()).skip(1).reduce(1, (a, b) -> a * b);
    if (z != null && c != classes) {
      throw LetheException.invalid(ForwardAnalysis.LOGITS, "'" + logitsName + "' has " + classes
          + " elements per sample at " + symbolic.describe(sizes) + " but " + c + " at "
          + symbolic.describe(other) + "; the logits of a model with symbolic input dimensions must not"
          + " change size with them");
    }
  }

  /**
   * This graph for other sizes of the symbolic dims (a new ForwardAnalysis and emission: tens of
   * milliseconds to seconds, as at registration). The parameters and the logits must come out as
   * at registration.
   *
   * @throws LetheException INVALID_ARGUMENT naming the first symbolic input when the model cannot
   *     run or be differentiated at those sizes
   */
  GradientGraph specialise(List<Long> other) {
    if (other.equals(sizes)) {
      return this;
    }
    GradientGraph g;
    try {
      g = analysed(source, symbolic.specialise(source, other), logitsName, loss, params, l2, symbolic, other);
    } catch (LetheException e) {
      throw LetheException.invalid(symbolic.firstField(), "the model cannot be differentiated at "
          + symbolic.describe(other) + ": " + e.getMessage());
    }
    if (g.classes != classes) {
      throw LetheException.invalid(symbolic.firstField(), "at " + symbolic.describe(other) + " the logits have "
          + g.classes + " elements per sample, not the model's " + classes);
    }
    return g;
  }

  /** The symbolic dims after the batch (empty when the inputs fix every dimension but the batch). */
  SymbolicDims symbolic() {
    return symbolic;
  }

  /**
   * The sizes of the symbolic dims this graph is built for (one per distinct dimension, in input
   * order; empty when there are none).
   */
  public List<Long> sizes() {
    return sizes;
  }

  /** Per-sample float32 elements of the batched forward values the logits need (an estimate of a run's working set). */
  long activationFloats() {
    return activationFloats;
  }

  /** The registration check: {@link #build} and discard. Throws as {@link #build} does. */
  public static void check(OnnxMl.ModelProto model, String logits, LossFunction loss, List<String> erasable) {
    build(model, logits, loss, erasable, 0);
  }

  /** @throws IllegalStateException for FACTORS when there are no {@link #layers()} */
  public OnnxMl.ModelProto model(Seed seed) {
    if (seed == Seed.FACTORS && factorsModel == null) {
      throw new IllegalStateException("the model has no Kronecker-factored layers");
    }
    return seed == Seed.LOSS ? lossModel : seed == Seed.COTANGENT ? cotangentModel : factorsModel;
  }

  /**
   * The erasable Gemm/MatMul/Conv weights whose per-sample gradients are outer products (see
   * {@link DenseLayer}), in the order of their weights; empty when there are none.
   */
  public List<DenseLayer> layers() {
    return layers;
  }

  /** Indices (spec order) of the erasable parameters no {@link #layers()} entry covers. */
  public int[] otherParameters() {
    return DenseLayers.others(layers, params.size());
  }

  public LossFunction loss() {
    return loss;
  }

  public double l2() {
    return l2;
  }

  /** Erasable parameter names in spec order. */
  public List<String> parameters() {
    return params;
  }

  /** Shape of each erasable parameter, spec order (copies must not be modified). */
  public List<long[]> parameterShapes() {
    return paramShapes;
  }

  /** P, the total number of erasable scalars. */
  public long parameterCount() {
    return parameterCount;
  }

  /** C, logits elements per sample. */
  public long classes() {
    return classes;
  }

  /** The fed inputs of the model. */
  public List<Input> inputs() {
    return inputs;
  }

  /** True when the model fixes its batch to 1 and each run takes one sample. */
  public boolean perSample() {
    return perSample;
  }

  // ---- emission ----------------------------------------------------------------------------

  private OnnxMl.ModelProto emit(ForwardAnalysis fa, String logits, Seed seed) {
    Emitter e = new Emitter(LossEmission.freshPrefix(fa));
    OnnxMl.GraphProto src = fa.model.getGraph();
    OnnxMl.GraphProto.Builder g = OnnxMl.GraphProto.newBuilder().setName(src.getName() + "_lethe_grad");
    // only what the logits need: nodes after them (a final Softmax, ZipMap, ArgMax) would run
    // on every call for nothing
    for (OnnxMl.NodeProto n : fa.nodes) {
      if (n.getOutputList().stream().anyMatch(fa.ancestors::contains)) {
        g.addNode(n);
      }
    }
    Set<String> erasable = Set.copyOf(params);
    for (OnnxMl.TensorProto t : src.getInitializerList()) {
      if (!erasable.contains(t.getName())) {
        g.addInitializer(t);
      }
    }
    g.addAllInput(fa.dataInputs);
    for (int i = 0; i < params.size(); i++) {
      g.addInput(OnnxBuilder.valueInfo(params.get(i), OnnxMl.TensorProto.DataType.FLOAT_VALUE, paramShapes.get(i)));
    }
    ValueMeta lm = fa.meta.get(logits);
    String z = e.reshape(logits, -1, classes);
    e.node("Identity", new String[] {z}, new String[] {LOGITS});
    String gz;
    if (seed == Seed.LOSS) {
      boolean classLabels = loss.hasClassLabels();
      g.addInput(OnnxBuilder.valueInfo(LABELS, classLabels ? OnnxMl.TensorProto.DataType.INT64_VALUE
          : OnnxMl.TensorProto.DataType.FLOAT_VALUE, classLabels ? new long[] {-1} : new long[] {-1, classes}));
      String[] lossAndGrad = LossEmission.lossHead(e, z, loss, classes);
      String total = lossAndGrad[0];
      if (l2 > 0) {
        String sq = null;
        for (String p : params) {
          String s = e.op("ReduceSum", new String[] {e.reshape(e.mul(p, p), -1)}, "keepdims", 0L);
          sq = sq == null ? s : e.add(sq, s);
        }
        total = e.add(total, e.scale(sq, l2 / 2));
      }
      e.node("Identity", new String[] {total}, new String[] {LOSS});
      gz = lossAndGrad[1];
    } else {
      g.addInput(OnnxBuilder.valueInfo(COTANGENT, OnnxMl.TensorProto.DataType.FLOAT_VALUE, new long[] {-1, classes}));
      gz = COTANGENT;
    }
    // the FACTORS graph outputs the other parameters' gradients only
    Set<Integer> kept = seed != Seed.FACTORS ? null
        : java.util.Arrays.stream(otherParameters()).boxed().collect(java.util.stream.Collectors.toSet());
    GradContext ctx = new GradContext(fa.meta, fa.needsGrad, fa.constants, e, fa.opset);
    Map<String, String> grads = fa.needsGrad.contains(logits)
        ? Backward.gradients(fa.path, logits, ctx.reshapeToSample(gz, lm), ctx)
        : Map.of();
    String batchDim = e.op("Slice", new String[] {e.op("Shape", new String[] {z}), e.ints(0), e.ints(1)});
    Map<String, String> renamed = new HashMap<>();
    String sqNorms = null;
    if (seed == Seed.FACTORS) {
      DenseLayers.emitOutputs(layers, fa, grads, ctx, g);
    }
    for (int i = 0; i < params.size(); i++) {
      if (kept != null && !kept.contains(i)) {
        continue;
      }
      String p = params.get(i);
      long[] shape = paramShapes.get(i);
      String gp = grads.get(p);
      String out = GRAD_PREFIX + i;
      if (seed == Seed.LOSS && l2 > 0) {
        String decay = e.scale(p, l2);
        if (gp == null) {
          String full = e.op("Concat", new String[] {batchDim, e.ints(shape)}, "axis", 0L);
          e.node("Expand", new String[] {decay, full}, new String[] {out});
        } else {
          e.node("Add", new String[] {gp, decay}, new String[] {out});
        }
      } else if (gp == null) {
        String full = e.op("Concat", new String[] {batchDim, e.ints(shape)}, "axis", 0L);
        e.node("Expand", new String[] {e.scalar(0), full}, new String[] {out});
      } else if (renamed.containsKey(gp) || !e.rename(gp, out)) {
        // the same tensor is already another parameter's output (or not ours to rename)
        e.node("Identity", new String[] {renamed.getOrDefault(gp, gp)}, new String[] {out});
      } else {
        renamed.put(gp, out);
      }
      g.addOutput(OnnxBuilder.valueInfo(out, OnnxMl.TensorProto.DataType.FLOAT_VALUE, GradContext.prepend(-1, shape)));
      long size = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
      String flat = e.reshape(out, -1, size);
      String sq = fa.opset >= 18
          ? e.op("ReduceSumSquare", new String[] {flat, e.ints(1)}, "keepdims", 0L)
          : e.op("ReduceSumSquare", new String[] {flat}, "axes", new long[] {1}, "keepdims", 0L);
      sqNorms = sqNorms == null ? sq : e.add(sqNorms, sq);
    }
    if (seed != Seed.FACTORS) {
      e.node("Identity", new String[] {sqNorms}, new String[] {SQ_NORMS});
    }
    g.addAllNode(e.nodes());
    g.addAllInitializer(e.initializers());
    if (seed == Seed.FACTORS) {
      g.addOutput(OnnxBuilder.valueInfo(LOGITS, OnnxMl.TensorProto.DataType.FLOAT_VALUE, new long[] {-1, classes}));
      return fa.model.toBuilder().clearGraph().setGraph(DenseLayers.prune(g)).build();
    }
    if (seed == Seed.LOSS) {
      g.addOutput(OnnxBuilder.valueInfo(LOSS, OnnxMl.TensorProto.DataType.FLOAT_VALUE, new long[] {-1}));
    }
    g.addOutput(OnnxBuilder.valueInfo(LOGITS, OnnxMl.TensorProto.DataType.FLOAT_VALUE, new long[] {-1, classes}));
    g.addOutput(OnnxBuilder.valueInfo(SQ_NORMS, OnnxMl.TensorProto.DataType.FLOAT_VALUE, new long[] {-1}));
    return fa.model.toBuilder().clearGraph().setGraph(g).build();
  }
}
