package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;
import dev.lethe.onnx.OnnxBuilder;
import java.util.ArrayList;
import java.util.List;

/**
 * Appends nodes and constant initializers to a graph under construction, with fresh value names
 * ({@code lethe/<n>}). Not thread-safe; one per graph build.
 */
public final class Emitter {
  private final List<OnnxMl.NodeProto> nodes = new ArrayList<>();
  private final List<OnnxMl.TensorProto> initializers = new ArrayList<>();
  private final String prefix;
  private int counter;

  /** @param prefix prefix of every generated value name; must not collide with model names */
  public Emitter(String prefix) {
    this.prefix = prefix;
  }

  public List<OnnxMl.NodeProto> nodes() {
    return nodes;
  }

  public List<OnnxMl.TensorProto> initializers() {
    return initializers;
  }

  public String fresh() {
    return prefix + counter++;
  }

  /** Emits a node with one fresh output; attributes as in {@link OnnxBuilder#attribute}. */
  public String op(String type, String[] inputs, Object... attributes) {
    return opN(type, inputs, 1, attributes)[0];
  }

  /** Emits a node with {@code outputs} fresh outputs. */
  public String[] opN(String type, String[] inputs, int outputs, Object... attributes) {
    String[] outs = new String[outputs];
    for (int i = 0; i < outputs; i++) {
      outs[i] = fresh();
    }
    node(type, inputs, outs, attributes);
    return outs;
  }

  /** Emits a node with given output names. */
  public void node(String type, String[] inputs, String[] outputs, Object... attributes) {
    OnnxMl.NodeProto.Builder n = OnnxMl.NodeProto.newBuilder().setOpType(type).setName(prefix + "n" + counter++);
    for (String in : inputs) {
      n.addInput(in);
    }
    for (String out : outputs) {
      n.addOutput(out);
    }
    for (int i = 0; i < attributes.length; i += 2) {
      n.addAttribute(OnnxBuilder.attribute((String) attributes[i], attributes[i + 1]));
    }
    nodes.add(n.build());
  }

  /**
   * Renames value {@code from}, produced by one of this emitter's nodes, to {@code to} in every
   * emitted node. Returns false (and changes nothing) when no emitted node produces it.
   */
  public boolean rename(String from, String to) {
    boolean produced = nodes.stream().anyMatch(n -> n.getOutputList().contains(from));
    if (!produced) {
      return false;
    }
    for (int i = 0; i < nodes.size(); i++) {
      OnnxMl.NodeProto n = nodes.get(i);
      if (n.getInputList().contains(from) || n.getOutputList().contains(from)) {
        OnnxMl.NodeProto.Builder b = n.toBuilder();
        for (int k = 0; k < b.getInputCount(); k++) {
          if (b.getInput(k).equals(from)) {
            b.setInput(k, to);
          }
        }
        for (int k = 0; k < b.getOutputCount(); k++) {
          if (b.getOutput(k).equals(from)) {
            b.setOutput(k, to);
          }
        }
        nodes.set(i, b.build());
      }
    }
    return true;
  }

  /** A 1-D int64 constant. */
  public String ints(long... values) {
    String name = fresh();
    OnnxMl.TensorProto.Builder t =
        OnnxMl.TensorProto.newBuilder().setName(name).setDataType(OnnxMl.TensorProto.DataType.INT64_VALUE).addDims(values.length);
    for (long v : values) {
      t.addInt64Data(v);
    }
    initializers.add(t.build());
    return name;
  }

  /** A float scalar (rank 0) constant. */
  public String scalar(double value) {
    String name = fresh();
    initializers.add(OnnxBuilder.floatTensor(name, new float[] {(float) value}));
    return name;
  }

  /** A float constant of the given dims. */
  public String floats(float[] values, long... dims) {
    String name = fresh();
    initializers.add(OnnxBuilder.floatTensor(name, values, dims));
    return name;
  }

  // ---- shorthands -------------------------------------------------------------------------

  public String add(String a, String b) {
    return op("Add", new String[] {a, b});
  }

  public String sub(String a, String b) {
    return op("Sub", new String[] {a, b});
  }

  public String mul(String a, String b) {
    return op("Mul", new String[] {a, b});
  }

  public String div(String a, String b) {
    return op("Div", new String[] {a, b});
  }

  public String neg(String a) {
    return op("Neg", new String[] {a});
  }

  public String matmul(String a, String b) {
    return op("MatMul", new String[] {a, b});
  }

  /** Multiplies by a constant unless it is 1. */
  public String scale(String a, double factor) {
    return factor == 1.0 ? a : mul(a, scalar(factor));
  }

  /** Reshape to a static shape (may contain one -1 and 0 = copy). */
  public String reshape(String x, long... shape) {
    return op("Reshape", new String[] {x, ints(shape)});
  }

  public String transpose(String x, long... perm) {
    return op("Transpose", new String[] {x}, "perm", perm);
  }

  public String unsqueeze(String x, long... axes) {
    return op("Unsqueeze", new String[] {x, ints(axes)});
  }

  /** ReduceSum (opset 13 form: axes as input) over the given axes; identity when axes is empty. */
  public String reduceSum(String x, long[] axes, boolean keepDims) {
    if (axes.length == 0) {
      return x;
    }
    return op("ReduceSum", new String[] {x, ints(axes)}, "keepdims", keepDims ? 1L : 0L);
  }

  /** Swaps the last two axes of a tensor of the given rank. */
  public String swapLast2(String x, int rank) {
    long[] perm = new long[rank];
    for (int i = 0; i < rank; i++) {
      perm[i] = i;
    }
    perm[rank - 2] = rank - 1;
    perm[rank - 1] = rank - 2;
    return transpose(x, perm);
  }
}
