package dev.lethe.onnx;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.lethe.core.LetheException;
import dev.lethe.core.Messages;
import dev.lethe.onnx.grad.GradRules;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What Lethe needs to know about a model's forward graph, checked once at registration: its
 * data inputs, the logits value and the erasable parameters with their shapes.
 *
 * <p>Immutable; thread-safe.
 */
public record ModelGraph(
    OnnxMl.ModelProto model,
    List<InputSpec> inputs,
    String logits,
    String logitsSource,
    List<ParameterSpec> parameters) {

  /** Activations whose output is a probability (or log-probability), never logits. */
  private static final Set<String> FINAL_ACTIVATIONS = Set.of("Softmax", "Sigmoid", "LogSoftmax");

  /**
   * Parses and checks an uploaded ONNX file against the requested logits value and erasable
   * parameters (empty = every float initializer consumed by a differentiable op).
   *
   * @throws LetheException INVALID_ARGUMENT naming the field (chunk, spec.logits_output,
   *     spec.erasable_parameters)
   */
  public static ModelGraph inspect(byte[] file, String logits, List<String> erasable) {
    return inspect(file, logits, erasable, GraphLimits.defaults());
  }

  /**
   * As {@link #inspect(byte[], String, List)}, first checking the model against
   * {@link ModelAudit} (no external data anywhere, size within {@code limits}).
   *
   * @throws LetheException also RESOURCE_EXHAUSTED for a graph beyond {@code limits}
   */
  public static ModelGraph inspect(byte[] file, String logits, List<String> erasable,
      GraphLimits limits) {
    return inspect(file, logits, erasable, false, limits);
  }

  /**
   * As {@link #inspect(byte[], String, List, GraphLimits)}. With an empty {@code erasable} list
   * the default (float initializers at the weight inputs of differentiable ops) must not leave
   * out a float initializer that reaches the logits through an op Lethe cannot differentiate —
   * such a model would register with part of its trained weights silently frozen — unless
   * {@code frozenPrefix} says they are frozen on purpose.
   *
   * @throws LetheException INVALID_ARGUMENT naming spec.erasable_parameters and listing what the
   *     default would leave out and why
   */
  public static ModelGraph inspect(byte[] file, String logits, List<String> erasable,
      boolean frozenPrefix, GraphLimits limits) {
    OnnxMl.ModelProto model;
    try {
      model = OnnxMl.ModelProto.parseFrom(file);
    } catch (InvalidProtocolBufferException e) {
      throw LetheException.invalid("chunk", "not a valid ONNX file: " + e.getMessage());
    }
    ModelAudit.check(model, limits);
    return of(model, logits, erasable, frozenPrefix);
  }

  /**
   * As {@link #inspect(byte[], String, List, boolean, GraphLimits)} for a file scanned on disk
   * ({@link ModelScan}, which has audited it): the model's structure, its large initializers
   * read from the file by ONNX Runtime.
   */
  public static ModelGraph inspect(ScannedModel scanned, String logits, List<String> erasable,
      boolean frozenPrefix) {
    return of(scanned.model(), logits, erasable, frozenPrefix);
  }

  private static ModelGraph of(OnnxMl.ModelProto model, String logits, List<String> erasable,
      boolean frozenPrefix) {
    OnnxMl.GraphProto graph = model.getGraph();
    if (!model.hasGraph() || graph.getNodeCount() == 0) {
      throw LetheException.invalid("chunk", "not a valid ONNX file: the model has no graph nodes");
    }
    Map<String, OnnxMl.TensorProto> initializers = new HashMap<>();
    for (OnnxMl.TensorProto t : graph.getInitializerList()) {
      initializers.put(t.getName(), t);
    }
    List<InputSpec> inputs = dataInputs(graph, initializers.keySet());
    String[] resolved = resolveLogits(graph, logits);
    String resolvedLogits = resolved[0];
    List<String> names = erasable;
    if (erasable.isEmpty()) {
      names = defaultErasable(graph, initializers);
      if (!frozenPrefix) {
        refuseLeftOut(graph, initializers, resolvedLogits, names);
      }
    }
    List<ParameterSpec> params = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (String name : names) {
      OnnxMl.TensorProto t = initializers.get(name);
      if (!seen.add(name)) {
        throw LetheException.invalid("spec.erasable_parameters",
            "'" + Messages.quote(name) + "' is listed twice");
      }
      if (t == null) {
        throw LetheException.invalid("spec.erasable_parameters",
            "'" + Messages.quote(name) + "' is not an initializer of the graph; float "
                + "initializers: " + candidates(floatInitializers(initializers, graph)));
      }
      if (t.getDataType() != OnnxMl.TensorProto.DataType.FLOAT_VALUE) {
        throw LetheException.invalid("spec.erasable_parameters",
            "'" + Messages.quote(name) + "' is not a float initializer (data_type "
                + t.getDataType() + "); float initializers: "
                + candidates(floatInitializers(initializers, graph)));
      }
      long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
      params.add(new ParameterSpec(name, dims));
    }
    if (params.isEmpty()) {
      throw LetheException.invalid("spec.erasable_parameters",
          "the graph has no float initializer consumed by a differentiable op; name them");
    }
    return new ModelGraph(model, List.copyOf(inputs), resolvedLogits, resolved[1], List.copyOf(params));
  }

  public List<String> parameterNames() {
    return parameters.stream().map(ParameterSpec::name).toList();
  }

  public long parameterCount() {
    return parameters.stream().mapToLong(ParameterSpec::elementCount).sum();
  }

  private static List<InputSpec> dataInputs(OnnxMl.GraphProto graph, Set<String> initializers) {
    List<InputSpec> inputs = new ArrayList<>();
    for (OnnxMl.ValueInfoProto in : graph.getInputList()) {
      if (initializers.contains(in.getName())) {
        continue;
      }
      OnnxMl.TypeProto.Tensor type = in.getType().getTensorType();
      int elem = type.getElemType();
      if (elem != OnnxMl.TensorProto.DataType.FLOAT_VALUE
          && elem != OnnxMl.TensorProto.DataType.INT64_VALUE) {
        throw LetheException.invalid("chunk",
            "graph input '" + in.getName() + "' has element type " + elem
                + "; Lethe feeds float and int64 inputs");
      }
      long[] dims = new long[type.getShape().getDimCount()];
      for (int i = 0; i < dims.length; i++) {
        OnnxMl.TensorShapeProto.Dimension d = type.getShape().getDim(i);
        dims[i] = d.hasDimValue() && d.getDimValue() > 0 ? d.getDimValue() : -1;
      }
      inputs.add(new InputSpec(in.getName(), elem == OnnxMl.TensorProto.DataType.FLOAT_VALUE, dims));
    }
    if (inputs.isEmpty()) {
      throw LetheException.invalid("chunk", "the graph has no data input");
    }
    return inputs;
  }

  /**
   * The logits value and how it was chosen ("" when named). An empty name takes the single graph
   * output, or, when that output comes straight out of Softmax, Sigmoid or LogSoftmax (through
   * Identity nodes), that activation's input: a loss on probabilities would give wrong gradients.
   */
  private static String[] resolveLogits(OnnxMl.GraphProto graph, String logits) {
    if (logits.isEmpty()) {
      if (graph.getOutputCount() != 1) {
        throw LetheException.invalid("spec.logits_output",
            "required: the graph has " + graph.getOutputCount() + " outputs; candidates: "
                + candidates(logitsCandidates(graph)));
      }
      String out = graph.getOutput(0).getName();
      Map<String, OnnxMl.NodeProto> producer = new HashMap<>();
      for (OnnxMl.NodeProto node : graph.getNodeList()) {
        node.getOutputList().forEach(o -> producer.put(o, node));
      }
      String v = out;
      OnnxMl.NodeProto p = producer.get(v);
      while (p != null && p.getOpType().equals("Identity") && isDefaultDomain(p)) {
        v = p.getInput(0);
        p = producer.get(v);
      }
      if (p != null && isDefaultDomain(p) && FINAL_ACTIVATIONS.contains(p.getOpType()) && p.getInputCount() > 0
          && producer.containsKey(p.getInput(0))) {
        return new String[] {p.getInput(0), "the input of the final " + p.getOpType() + " node '"
            + p.getName() + "' (the graph output '" + out + "' is its " + p.getOpType() + ")"};
      }
      return new String[] {out, "the graph output"};
    }
    for (OnnxMl.NodeProto node : graph.getNodeList()) {
      if (node.getOutputList().contains(logits)) {
        return new String[] {logits, ""};
      }
    }
    throw LetheException.invalid("spec.logits_output",
        "'" + Messages.quote(logits) + "' is not the output of any node of the graph; candidates: "
            + candidates(logitsCandidates(graph)));
  }

  /**
   * Values that are likely logits: the graph's outputs and the inputs of its Softmax, LogSoftmax
   * and Sigmoid nodes (an exported classifier often ends in one), in graph order.
   */
  static List<String> logitsCandidates(OnnxMl.GraphProto graph) {
    Set<String> out = new LinkedHashSet<>();
    for (OnnxMl.NodeProto node : graph.getNodeList()) {
      String op = node.getOpType();
      if ((op.equals("Softmax") || op.equals("LogSoftmax") || op.equals("Sigmoid"))
          && node.getInputCount() > 0) {
        out.add(node.getInput(0));
      }
    }
    graph.getOutputList().forEach(o -> out.add(o.getName()));
    return new ArrayList<>(out);
  }

  /** The float initializers with at least one dimension: what may be erasable. */
  static List<String> floatInitializers(Map<String, OnnxMl.TensorProto> initializers,
      OnnxMl.GraphProto graph) {
    List<String> out = new ArrayList<>();
    for (OnnxMl.TensorProto t : graph.getInitializerList()) {
      if (t.getDataType() == OnnxMl.TensorProto.DataType.FLOAT_VALUE && t.getDimsCount() > 0) {
        out.add(t.getName());
      }
    }
    return out;
  }

  /** Up to 12 names, quoted, for an error message. */
  static String candidates(List<String> names) {
    if (names.isEmpty()) {
      return "(none)";
    }
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < Math.min(12, names.size()); i++) {
      b.append(i > 0 ? ", " : "").append('\'').append(Messages.quote(names.get(i))).append('\'');
    }
    if (names.size() > 12) {
      b.append(", ... (").append(names.size()).append(" in all)");
    }
    return b.toString();
  }

  private static boolean isDefaultDomain(OnnxMl.NodeProto node) {
    return node.getDomain().isEmpty() || node.getDomain().equals("ai.onnx");
  }

  /**
   * Refuses a default erasable list that leaves out a float initializer (rank &ge; 1) read as a
   * weight by a node the logits depend on: that node is not differentiable, so its weights would
   * silently stay frozen.
   */
  private static void refuseLeftOut(OnnxMl.GraphProto graph, Map<String, OnnxMl.TensorProto> initializers,
      String logits, List<String> chosen) {
    Map<String, OnnxMl.NodeProto> producer = new HashMap<>();
    for (OnnxMl.NodeProto node : graph.getNodeList()) {
      node.getOutputList().forEach(o -> producer.put(o, node));
    }
    Set<OnnxMl.NodeProto> upstream = new HashSet<>();
    java.util.ArrayDeque<String> todo = new java.util.ArrayDeque<>(List.of(logits));
    Set<String> seen = new HashSet<>();
    while (!todo.isEmpty()) {
      String v = todo.pop();
      OnnxMl.NodeProto p = producer.get(v);
      if (seen.add(v) && p != null && upstream.add(p)) {
        p.getInputList().forEach(todo::push);
      }
    }
    Set<String> chosenSet = Set.copyOf(chosen);
    Map<String, String> leftOut = new java.util.LinkedHashMap<>();
    for (OnnxMl.NodeProto node : graph.getNodeList()) {
      if (!upstream.contains(node)) {
        continue;
      }
      for (int i = 0; i < node.getInputCount(); i++) {
        String in = node.getInput(i);
        OnnxMl.TensorProto t = initializers.get(in);
        if (t == null || chosenSet.contains(in) || leftOut.containsKey(in) || !isWeightInput(node.getOpType(), i)
            || t.getDataType() != OnnxMl.TensorProto.DataType.FLOAT_VALUE || t.getDimsCount() == 0) {
          continue;
        }
        if (GradRules.forOp(node.getDomain(), node.getOpType()) == null) {
          leftOut.put(in, "input " + i + " of node '" + node.getName() + "' (op "
              + (isDefaultDomain(node) ? "" : node.getDomain() + ".") + node.getOpType()
              + ", which Lethe cannot differentiate)");
        }
      }
    }
    if (!leftOut.isEmpty()) {
      StringBuilder m = new StringBuilder("empty: the default list would leave out trained float initializers "
          + "on the path to the logits: ");
      int k = 0;
      for (Map.Entry<String, String> e : leftOut.entrySet()) {
        if (k++ == 8) {
          m.append(", ... (").append(leftOut.size()).append(" in all)");
          break;
        }
        m.append(k > 1 ? ", " : "").append('\'').append(Messages.quote(e.getKey())).append("' (").append(e.getValue())
            .append(')');
      }
      m.append("; name the erasable parameters, or set spec.frozen_prefix to keep them frozen");
      throw LetheException.invalid("spec.erasable_parameters", m.toString());
    }
  }

  private static List<String> defaultErasable(
      OnnxMl.GraphProto graph, Map<String, OnnxMl.TensorProto> initializers) {
    Set<String> names = new LinkedHashSet<>();
    for (OnnxMl.NodeProto node : graph.getNodeList()) {
      if (GradRules.forOp(node.getDomain(), node.getOpType()) == null) {
        continue;
      }
      for (int i = 0; i < node.getInputCount(); i++) {
        if (!isWeightInput(node.getOpType(), i)) {
          continue;
        }
        String in = node.getInput(i);
        OnnxMl.TensorProto t = initializers.get(in);
        if (t != null && t.getDataType() == OnnxMl.TensorProto.DataType.FLOAT_VALUE
            && t.getDimsCount() > 0) {
          names.add(in);
        }
      }
    }
    return new ArrayList<>(names);
  }

  /**
   * False for inputs that are shapes, axes, exponents, ratios or running statistics rather than
   * learned weights (BatchNormalization's mean and variance, Pow's exponent, ...).
   */
  static boolean isWeightInput(String opType, int index) {
    return switch (opType) {
      case "BatchNormalization" -> index == 1 || index == 2;
      case "Reshape", "Squeeze", "Unsqueeze", "Pow", "ReduceMean", "ReduceSum" -> index == 0;
      case "Dropout" -> index == 0;
      case "Resize", "Upsample", "Clip", "Pad" -> index == 0; // scales, bounds, pad values
      case "Gather" -> index == 0; // not the indices
      case "Where" -> index != 0; // not the condition
      case "LSTM", "GRU", "RNN" -> index == 1 || index == 2 || index == 3 || index == 7; // W, R, B, P
      default -> true;
    };
  }
}
