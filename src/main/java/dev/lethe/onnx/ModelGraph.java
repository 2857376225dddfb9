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
    List<ParameterSpec> parameters) {

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
    OnnxMl.ModelProto model;
    try {
      model = OnnxMl.ModelProto.parseFrom(file);
    } catch (InvalidProtocolBufferException e) {
      throw LetheException.invalid("chunk", "not a valid ONNX file: " + e.getMessage());
    }
    ModelAudit.check(model, limits);
    OnnxMl.GraphProto graph = model.getGraph();
    if (!model.hasGraph() || graph.getNodeCount() == 0) {
      throw LetheException.invalid("chunk", "not a valid ONNX file: the model has no graph nodes");
    }
    Map<String, OnnxMl.TensorProto> initializers = new HashMap<>();
    for (OnnxMl.TensorProto t : graph.getInitializerList()) {
      initializers.put(t.getName(), t);
    }
    List<InputSpec> inputs = dataInputs(graph, initializers.keySet());
    String resolvedLogits = resolveLogits(graph, logits);
    List<String> names = erasable.isEmpty() ? defaultErasable(graph, initializers) : erasable;
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
    return new ModelGraph(model, List.copyOf(inputs), resolvedLogits, List.copyOf(params));
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

  private static String resolveLogits(OnnxMl.GraphProto graph, String logits) {
    if (logits.isEmpty()) {
      if (graph.getOutputCount() != 1) {
        throw LetheException.invalid("spec.logits_output",
            "required: the graph has " + graph.getOutputCount() + " outputs; candidates: "
                + candidates(logitsCandidates(graph)));
      }
      return graph.getOutput(0).getName();
    }
    for (OnnxMl.NodeProto node : graph.getNodeList()) {
      if (node.getOutputList().contains(logits)) {
        return logits;
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
      default -> true;
    };
  }
}
