package dev.lethe.onnx;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OrtException;
import dev.lethe.core.LetheException;
import dev.lethe.onnx.grad.GradRules;
import dev.lethe.onnx.grad.ValueMeta;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Everything GradientGraph needs to know about a forward model: validated spec, topologically
 * sorted nodes, the batch handling (symbolic, made symbolic, or one sample per run), value
 * metadata from two probe runs, which values need gradients and which nodes lie on the
 * differentiated path. Refuses bad input with INVALID_ARGUMENT naming the field.
 */
final class ForwardAnalysis {
  static final String MODEL = "model";
  static final String PARAMS = "spec.erasable_parameters";
  static final String LOGITS = "spec.logits_output";

  final OnnxMl.ModelProto model; // relaxed when a fixed batch of 1 could be made symbolic
  final long opset;
  List<OnnxMl.NodeProto> nodes; // topological order (of the chosen model)
  final List<OnnxMl.ValueInfoProto> dataInputs;
  final Map<String, OnnxMl.TensorProto> initializers = new LinkedHashMap<>();
  final Map<String, ValueMeta> meta = new HashMap<>();
  final Map<String, long[]> constants = new HashMap<>();
  private final Map<String, Integer> elemTypes = new HashMap<>();
  private final Set<String> valueDependent = new HashSet<>();
  private final Map<String, String> otherFloats = new HashMap<>();
  final Set<String> needsGrad = new HashSet<>();
  final List<OnnxMl.NodeProto> path = new ArrayList<>();
  /** Values the logits depend on (the logits included). */
  final Set<String> ancestors = new HashSet<>();
  boolean perSample;

  ForwardAnalysis(OnnxMl.ModelProto original, String logits, List<String> erasable) {
    opset = defaultOpset(original);
    if (opset < 13) {
      throw LetheException.invalid(MODEL, "opset " + opset + " is older than 13, the oldest Lethe differentiates");
    }
    OnnxMl.GraphProto graph = original.getGraph();
    for (OnnxMl.TensorProto t : graph.getInitializerList()) {
      initializers.put(t.getName(), t);
    }
    checkErasable(erasable);
    dataInputs = new ArrayList<>();
    boolean fixedOne = false;
    for (OnnxMl.ValueInfoProto in : graph.getInputList()) {
      if (!initializers.containsKey(in.getName())) {
        fixedOne |= checkDataInput(in);
        dataInputs.add(in);
      }
    }
    nodes = GraphOrder.topological(graph);
    Set<String> produced = new HashSet<>();
    nodes.forEach(n -> produced.addAll(n.getOutputList()));
    if (logits == null || !produced.contains(logits)) {
      throw LetheException.invalid(LOGITS, "'" + logits + "' is not a value computed by the graph");
    }
    Set<String> batched = batchedValues();
    OnnxMl.ModelProto chosen = original;
    boolean oneByOne = false;
    Map<String, ShapeProbe.Probed> p1;
    Map<String, ShapeProbe.Probed> p2;
    try {
      if (fixedOne) {
        OnnxMl.ModelProto relaxed = relaxBatch(original, batched);
        Map<String, ShapeProbe.Probed>[] probes = tryProbe(relaxed, relaxedInputs(), batched, logits);
        if (probes != null) {
          chosen = relaxed;
          dataInputs.replaceAll(ForwardAnalysis::symbolicBatch);
          p1 = probes[0];
          p2 = probes[1];
        } else {
          oneByOne = true;
          p1 = ShapeProbe.run(original, dataInputs, 1);
          p2 = p1;
        }
      } else {
        p1 = ShapeProbe.run(original, dataInputs, 2);
        p2 = ShapeProbe.run(original, dataInputs, 3);
      }
    } catch (OrtException e) {
      throw LetheException.invalid(MODEL, "ONNX Runtime cannot run the model: " + e.getMessage());
    }
    model = chosen;
    perSample = oneByOne;
    if (chosen != original) {
      nodes = GraphOrder.topological(chosen.getGraph());
      initializers.clear();
      for (OnnxMl.TensorProto t : chosen.getGraph().getInitializerList()) {
        initializers.put(t.getName(), t);
      }
    }
    buildMeta(batched, p1, p2, oneByOne ? 1 : 2, oneByOne ? 1 : 3, oneByOne ? p1 : null);
    List<String> offAxis = markPath(logits, erasable);
    if (!offAxis.isEmpty() && !oneByOne) {
      // Values on the path carry the batch off axis 0 (attention's [S, N, E], RNN outputs): the
      // graph runs one sample at a time, where such a value is an ordinary static tensor whose
      // per-sample gradient [1] + shape is the value's own layout.
      Map<String, ShapeProbe.Probed> single;
      try {
        single = ShapeProbe.run(model, dataInputs, 1);
      } catch (OrtException e) {
        throw LetheException.invalid(MODEL, "ONNX Runtime cannot run the model: " + e.getMessage());
      }
      meta.clear();
      constants.clear();
      buildMeta(batched, p1, p2, 2, 3, single);
      needsGrad.clear();
      ancestors.clear();
      path.clear();
      offAxis = markPath(logits, erasable);
      perSample = true;
    }
    if (!offAxis.isEmpty()) {
      throw LetheException.invalid(MODEL, offAxis.get(0));
    }
    ValueMeta lm = meta.get(logits);
    if (lm == null || !lm.batched() || lm.elemType() != OnnxMl.TensorProto.DataType.FLOAT_VALUE) {
      throw LetheException.invalid(LOGITS, "'" + logits + "' must be a FLOAT value with the batch on axis 0");
    }
  }

  // ---- spec checks -------------------------------------------------------------------------

  private static long defaultOpset(OnnxMl.ModelProto m) {
    for (OnnxMl.OperatorSetIdProto o : m.getOpsetImportList()) {
      if (o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx")) {
        return o.getVersion();
      }
    }
    throw LetheException.invalid(MODEL, "no default-domain opset import");
  }

  private void checkErasable(List<String> erasable) {
    Set<String> seen = new HashSet<>();
    for (String p : erasable) {
      OnnxMl.TensorProto t = initializers.get(p);
      if (t == null) {
        throw LetheException.invalid(PARAMS, "'" + p + "' is not an initializer of the model");
      }
      if (t.getDataType() != OnnxMl.TensorProto.DataType.FLOAT_VALUE) {
        throw LetheException.invalid(PARAMS, "'" + p + "' is not a FLOAT initializer");
      }
      if (!seen.add(p)) {
        throw LetheException.invalid(PARAMS, "'" + p + "' is listed twice");
      }
    }
  }

  /** Checks one fed input; returns true when its batch dimension is fixed to 1. */
  private static boolean checkDataInput(OnnxMl.ValueInfoProto in) {
    OnnxMl.TypeProto.Tensor tt = in.getType().getTensorType();
    int type = tt.getElemType();
    if (type != OnnxMl.TensorProto.DataType.FLOAT_VALUE && type != OnnxMl.TensorProto.DataType.INT64_VALUE) {
      throw LetheException.invalid(MODEL, "input '" + in.getName() + "' has element type "
          + OnnxMl.TensorProto.DataType.forNumber(type) + "; Lethe feeds FLOAT and INT64 inputs");
    }
    List<OnnxMl.TensorShapeProto.Dimension> dims = tt.getShape().getDimList();
    if (dims.isEmpty()) {
      throw LetheException.invalid(MODEL, "input '" + in.getName() + "' has no batch dimension");
    }
    for (int i = 1; i < dims.size(); i++) {
      if (!dims.get(i).hasDimValue() || dims.get(i).getDimValue() <= 0) {
        throw LetheException.invalid(MODEL, "input '" + in.getName() + "' dimension " + i
            + " is not fixed; only the batch dimension may be symbolic");
      }
    }
    OnnxMl.TensorShapeProto.Dimension d0 = dims.get(0);
    if (d0.hasDimValue() && d0.getDimValue() != 1) {
      throw LetheException.invalid(MODEL, "input '" + in.getName() + "' has a fixed batch dimension "
          + d0.getDimValue() + "; expected a symbolic one or 1");
    }
    return d0.hasDimValue();
  }

  // ---- graph structure ---------------------------------------------------------------------

  /**
   * Values that depend on a fed input (they carry the batch); {@link #valueDependent} gets those
   * that depend on the inputs' values, not only on their shapes.
   */
  private Set<String> batchedValues() {
    Set<String> b = new HashSet<>();
    dataInputs.forEach(i -> b.add(i.getName()));
    valueDependent.addAll(b);
    for (OnnxMl.NodeProto n : nodes) {
      if (n.getInputList().stream().anyMatch(b::contains)) {
        b.addAll(n.getOutputList());
      }
      boolean shapeOnly = n.getOpType().equals("Shape") || n.getOpType().equals("Size");
      if (!shapeOnly && n.getInputList().stream().anyMatch(valueDependent::contains)) {
        valueDependent.addAll(n.getOutputList());
      }
    }
    return b;
  }

  // ---- fixed batch of 1 --------------------------------------------------------------------

  /**
   * The model with every fed input's batch dimension symbolic and every constant Reshape target
   * of a batched value starting with 1 changed to start with 0 (copy the batch).
   */
  private OnnxMl.ModelProto relaxBatch(OnnxMl.ModelProto m, Set<String> batched) {
    OnnxMl.GraphProto.Builder g = m.getGraph().toBuilder().clearValueInfo();
    for (int i = 0; i < g.getInputCount(); i++) {
      if (!initializers.containsKey(g.getInput(i).getName())) {
        g.setInput(i, symbolicBatch(g.getInput(i)));
      }
    }
    int fresh = 0;
    for (int i = 0; i < g.getNodeCount(); i++) {
      OnnxMl.NodeProto n = g.getNode(i);
      if (n.getOpType().equals("Reshape") && batched.contains(n.getInput(0))) {
        long[] shape = int64Initializer(n.getInput(1));
        if (shape != null && shape.length > 0 && shape[0] == 1) {
          shape[0] = 0;
          String name = "lethe_relaxed_shape_" + fresh++;
          OnnxMl.TensorProto.Builder t = OnnxMl.TensorProto.newBuilder().setName(name)
              .setDataType(OnnxMl.TensorProto.DataType.INT64_VALUE).addDims(shape.length);
          Arrays.stream(shape).forEach(t::addInt64Data);
          g.addInitializer(t);
          g.setNode(i, n.toBuilder().setInput(1, name).build());
        }
      }
    }
    return m.toBuilder().setGraph(g).build();
  }

  private List<OnnxMl.ValueInfoProto> relaxedInputs() {
    return dataInputs.stream().map(ForwardAnalysis::symbolicBatch).toList();
  }

  private static OnnxMl.ValueInfoProto symbolicBatch(OnnxMl.ValueInfoProto in) {
    OnnxMl.ValueInfoProto.Builder b = in.toBuilder();
    b.getTypeBuilder().getTensorTypeBuilder().getShapeBuilder().getDimBuilder(0).clearDimValue().setDimParam("N");
    return b.build();
  }

  /** Probes the relaxed model at two batch sizes; null when it fails or mixes the batch. */
  @SuppressWarnings("unchecked")
  private Map<String, ShapeProbe.Probed>[] tryProbe(OnnxMl.ModelProto relaxed, List<OnnxMl.ValueInfoProto> inputs,
      Set<String> batched, String logits) {
    try {
      Map<String, ShapeProbe.Probed> a = ShapeProbe.run(relaxed, inputs, 2);
      Map<String, ShapeProbe.Probed> b = ShapeProbe.run(relaxed, inputs, 3);
      for (Map.Entry<String, ShapeProbe.Probed> e : a.entrySet()) {
        ShapeProbe.Probed pb = b.get(e.getKey());
        if (pb == null || (batched.contains(e.getKey()) && e.getValue().elemType() == 1
            && regular(e.getValue().dims(), pb.dims(), 2, 3) == null)) {
          return null;
        }
      }
      return new Map[] {a, b};
    } catch (OrtException | RuntimeException e) {
      return null;
    }
  }

  private long[] int64Initializer(String name) {
    OnnxMl.TensorProto t = initializers.get(name);
    if (t != null && t.getDataType() == OnnxMl.TensorProto.DataType.INT64_VALUE) {
      if (t.getInt64DataCount() > 0) {
        return t.getInt64DataList().stream().mapToLong(Long::longValue).toArray();
      }
      ByteBuffer raw = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      long[] v = new long[raw.remaining() / 8];
      raw.asLongBuffer().get(v);
      return v;
    }
    for (OnnxMl.NodeProto n : nodes) {
      if (n.getOpType().equals("Constant") && n.getOutput(0).equals(name) && n.getAttributeCount() == 1
          && n.getAttribute(0).getName().equals("value")) {
        OnnxMl.TensorProto v = n.getAttribute(0).getT();
        if (v.getDataType() == OnnxMl.TensorProto.DataType.INT64_VALUE) {
          OnnxMl.TensorProto named = v.toBuilder().setName(name).build();
          initializers.put(name, named);
          long[] r = int64Initializer(name);
          initializers.remove(name);
          return r;
        }
      }
    }
    return null;
  }

  // ---- metadata ----------------------------------------------------------------------------

  /** The shape with -1 for the batch if the two probes agree with a batch on axis 0, else null. */
  private static long[] regular(long[] a, long[] b, int na, int nb) {
    if (a.length != b.length || a.length == 0 || a[0] != na || b[0] != nb) {
      return null;
    }
    for (int i = 1; i < a.length; i++) {
      if (a[i] != b[i]) {
        return null;
      }
    }
    long[] s = a.clone();
    s[0] = -1;
    return s;
  }

  /**
   * Metadata from the probes at batch sizes n1 and n2. With {@code single} (a probe at batch 1,
   * for a graph run one sample at a time) a batched value whose batch is not on axis 0 becomes a
   * static value of its batch-1 shape, and int64 values that depend on the inputs only through
   * their shapes (Shape, Size) are constants: with one sample per run they cannot change.
   */
  private void buildMeta(Set<String> batched, Map<String, ShapeProbe.Probed> p1,
      Map<String, ShapeProbe.Probed> p2, int n1, int n2, Map<String, ShapeProbe.Probed> single) {
    for (OnnxMl.TensorProto t : initializers.values()) {
      meta.put(t.getName(), new ValueMeta(t.getName(), t.getDataType(),
          t.getDimsList().stream().mapToLong(Long::longValue).toArray(), false));
      if (t.getDataType() == OnnxMl.TensorProto.DataType.INT64_VALUE) {
        long[] v = int64Initializer(t.getName());
        if (v != null && v.length <= 64) {
          constants.put(t.getName(), v);
        }
      }
    }
    for (OnnxMl.ValueInfoProto in : dataInputs) {
      List<OnnxMl.TensorShapeProto.Dimension> dl = in.getType().getTensorType().getShape().getDimList();
      long[] s = new long[dl.size()];
      for (int i = 1; i < s.length; i++) {
        s[i] = dl.get(i).getDimValue();
      }
      s[0] = -1;
      meta.put(in.getName(), new ValueMeta(in.getName(), in.getType().getTensorType().getElemType(), s, true));
    }
    for (Map.Entry<String, ShapeProbe.Probed> e : p1.entrySet()) {
      String name = e.getKey();
      ShapeProbe.Probed a = e.getValue();
      elemTypes.put(name, a.elemType());
      ShapeProbe.Probed b = p2.get(name);
      if (b == null) {
        continue;
      }
      if (batched.contains(name)) {
        long[] s = regular(a.dims(), b.dims(), n1, n2);
        ShapeProbe.Probed one = single == null ? null : single.get(name);
        if (s != null) {
          meta.put(name, new ValueMeta(name, a.elemType(), s, true));
        } else if (one != null) {
          meta.put(name, new ValueMeta(name, one.elemType(), one.dims(), false));
        }
        if (one != null && one.longs() != null && !valueDependent.contains(name)) {
          constants.put(name, one.longs());
        }
      } else if (Arrays.equals(a.dims(), b.dims())) {
        meta.put(name, new ValueMeta(name, a.elemType(), a.dims(), false));
        if (a.longs() != null) {
          constants.put(name, a.longs());
        }
      }
    }
  }

  // ---- differentiated path -----------------------------------------------------------------

  /** Marks the path; returns refusals that one sample per run may lift (batch off axis 0) or not. */
  private List<String> markPath(String logits, List<String> erasable) {
    List<String> offAxis = new ArrayList<>();
    needsGrad.addAll(erasable);
    for (OnnxMl.NodeProto n : nodes) {
      GradRules.Entry entry = GradRules.forOp(n.getDomain(), n.getOpType());
      boolean flows = false;
      for (int i = 0; i < n.getInputCount(); i++) {
        if (needsGrad.contains(n.getInput(i)) && (entry == null || entry.differentiable(i))) {
          flows = true;
        }
      }
      if (flows) {
        for (int o = 0; o < n.getOutputCount(); o++) {
          String out = n.getOutput(o);
          Integer type = elemTypes.get(out);
          boolean floatOut = type == null || type == OnnxMl.TensorProto.DataType.FLOAT_VALUE;
          if (!out.isEmpty() && floatOut) {
            needsGrad.add(out);
          } else if (type == 10 || type == 11 || type == 16) { // FLOAT16, DOUBLE, BFLOAT16: never silently cut
            otherFloats.put(out, "node '" + n.getName() + "' (op " + n.getOpType() + ") makes a value that depends on "
                + "an erasable parameter " + OnnxMl.TensorProto.DataType.forNumber(type) + "; Lethe differentiates FLOAT");
          }
        }
      }
    }
    ancestors.add(logits);
    for (int i = nodes.size() - 1; i >= 0; i--) {
      OnnxMl.NodeProto n = nodes.get(i);
      if (n.getOutputList().stream().anyMatch(ancestors::contains)) {
        ancestors.addAll(n.getInputList());
      }
    }
    otherFloats.keySet().stream().filter(ancestors::contains).findFirst()
        .ifPresent(v -> offAxis.add(otherFloats.get(v)));
    for (OnnxMl.NodeProto n : nodes) {
      boolean onPath = n.getOutputList().stream().anyMatch(o -> needsGrad.contains(o) && ancestors.contains(o));
      if (!onPath) {
        continue;
      }
      GradRules.Entry entry = GradRules.forOp(n.getDomain(), n.getOpType());
      if (entry == null) {
        throw LetheException.invalid(MODEL, "node '" + n.getName() + "' (op "
            + (n.getDomain().isEmpty() ? "" : n.getDomain() + ".") + n.getOpType()
            + ") lies between an erasable parameter and the logits and is not differentiable; "
            + "supported ops: " + GradRules.supported());
      }
      for (int o = 0; o < n.getOutputCount(); o++) {
        String out = n.getOutput(o);
        if (!entry.differentiableOutput(o) && needsGrad.contains(out) && ancestors.contains(out)) {
          throw LetheException.invalid(MODEL, "node '" + n.getName() + "' (op " + n.getOpType()
              + "): output " + o + " ('" + out + "') cannot carry a gradient");
        }
      }
      List<String> used = new ArrayList<>();
      for (int i = 0; i < n.getInputCount(); i++) {
        if (entry.differentiable(i)) {
          used.add(n.getInput(i));
        }
      }
      n.getOutputList().stream().filter(ancestors::contains).forEach(used::add);
      for (String v : used) {
        if (!v.isEmpty() && !meta.containsKey(v)) {
          offAxis.add("value '" + v + "' at node '" + n.getName() + "' (op "
              + n.getOpType() + ") on the differentiated path does not keep the batch on axis 0");
        }
      }
      path.add(n);
    }
    return offAxis;
  }
}
