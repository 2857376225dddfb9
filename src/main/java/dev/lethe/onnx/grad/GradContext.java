package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;
import dev.lethe.core.LetheException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the backward rules read while one gradient graph is emitted, plus the shape helpers they
 * share. The gradients themselves are {@link Backward}'s. The maps are the forward analysis's and
 * are only read; the emitter is appended to. Not thread-safe; one per graph build.
 *
 * @param meta metadata of every value of the forward graph
 * @param differentiated values that depend on an erasable parameter through differentiable inputs
 * @param constants int64 values known at build time (initializers, Constant nodes, probed)
 * @param emit where the backward nodes go
 * @param opset the model's default-domain opset
 * @param grads the gradients found so far by value name, filled by {@link Backward}; rules of
 *     multi-output ops read their other outputs' gradients here ({@link #gradOf})
 */
public record GradContext(Map<String, ValueMeta> meta, Set<String> differentiated, Map<String, long[]> constants,
    Emitter emit, long opset, Map<String, String> grads) {

  public GradContext(Map<String, ValueMeta> meta, Set<String> differentiated, Map<String, long[]> constants,
      Emitter emit, long opset) {
    this(meta, differentiated, constants, emit, opset, new java.util.HashMap<>());
  }

  /** The gradient of {@code value} found so far ([N] + its sample shape), or null. */
  public String gradOf(String value) {
    return grads.get(value);
  }

  /** Zeros of shape [N] + the sample shape of {@code value}, N taken from {@code like} (a gradient). */
  public String zerosLike(String value, String like) {
    Emitter e = emit;
    String n = e.op("Slice", new String[] {e.op("Shape", new String[] {like}), e.ints(0), e.ints(1)});
    String shape = e.op("Concat", new String[] {n, e.ints(meta(value).sampleShape())}, "axis", 0L);
    return e.op("ConstantOfShape", new String[] {shape}, "value", dev.lethe.onnx.OnnxBuilder.floatTensor("zero",
        new float[] {0f}, 1));
  }

  public ValueMeta meta(String value) {
    ValueMeta m = meta.get(value);
    if (m == null) {
      throw new IllegalStateException("no metadata for value " + value);
    }
    return m;
  }

  /** True when {@code value} is non-empty and needs a gradient. */
  public boolean needsGrad(String value) {
    return !value.isEmpty() && differentiated.contains(value);
  }

  /** An int64 value known when the graph is built (axes, shapes, pads), or null. */
  public long[] constant(String value) {
    return value.isEmpty() ? null : constants.get(value);
  }

  /**
   * Reduces a per-sample gradient {@code g} of shape [N] + {@code gSample} to [N] + the sample
   * shape of {@code target}, undoing numpy broadcasting of the sample shapes (aligned on the
   * right). Axis 0 (the batch) is never reduced.
   */
  public String unbroadcast(String g, long[] gSample, ValueMeta target) {
    return unbroadcast(g, gSample, target.sampleShape());
  }

  /** As {@link #unbroadcast(String, long[], ValueMeta)} with the target's sample shape given. */
  public String unbroadcast(String g, long[] gSample, long[] t) {
    int extra = t.length - gSample.length;
    for (int i = 0; i < extra; i++) {
      if (t[i] != 1) {
        throw new IllegalStateException(
            "cannot unbroadcast " + Arrays.toString(gSample) + " to " + Arrays.toString(t));
      }
    }
    List<Long> axes = new ArrayList<>();
    int off = gSample.length - t.length;
    for (int i = 0; i < gSample.length; i++) {
      int ti = i - off;
      long td = ti < 0 ? 1 : t[ti];
      if (td == 1 && gSample[i] != 1) {
        axes.add((long) i + 1);
      }
    }
    String r = emit.reduceSum(g, axes.stream().mapToLong(Long::longValue).toArray(), true);
    boolean same = Arrays.equals(t, reducedShape(gSample, axes));
    return same ? r : emit.reshape(r, prepend(-1, t));
  }

  private static long[] reducedShape(long[] gSample, List<Long> axes) {
    long[] s = gSample.clone();
    for (long a : axes) {
      s[(int) a - 1] = 1;
    }
    return s;
  }

  /** Reshapes a gradient to [N] + the sample shape of {@code target}. */
  public String reshapeToSample(String g, ValueMeta target) {
    return emit.reshape(g, prepend(-1, target.sampleShape()));
  }

  /** INVALID_ARGUMENT naming the node, for a variant of a supported op Lethe cannot differentiate. */
  public static LetheException unsupported(OnnxMl.NodeProto node, String why) {
    return LetheException.invalid("model",
        "node '" + node.getName() + "' (op " + node.getOpType() + ") on the differentiated path: " + why);
  }

  public static long[] prepend(long first, long[] rest) {
    long[] r = new long[rest.length + 1];
    r[0] = first;
    System.arraycopy(rest, 0, r, 1, rest.length);
    return r;
  }

  // ---- attribute readers ------------------------------------------------------------------

  public static OnnxMl.AttributeProto attr(OnnxMl.NodeProto node, String name) {
    for (OnnxMl.AttributeProto a : node.getAttributeList()) {
      if (a.getName().equals(name)) {
        return a;
      }
    }
    return null;
  }

  public static long attrInt(OnnxMl.NodeProto node, String name, long dflt) {
    OnnxMl.AttributeProto a = attr(node, name);
    return a == null ? dflt : a.getI();
  }

  public static float attrFloat(OnnxMl.NodeProto node, String name, float dflt) {
    OnnxMl.AttributeProto a = attr(node, name);
    return a == null ? dflt : a.getF();
  }

  public static long[] attrInts(OnnxMl.NodeProto node, String name) {
    OnnxMl.AttributeProto a = attr(node, name);
    return a == null ? null : a.getIntsList().stream().mapToLong(Long::longValue).toArray();
  }

  public static String attrString(OnnxMl.NodeProto node, String name, String dflt) {
    OnnxMl.AttributeProto a = attr(node, name);
    return a == null ? dflt : a.getS().toStringUtf8();
  }

  /** Input {@code i} of the node, or "" when absent. */
  public static String input(OnnxMl.NodeProto node, int i) {
    return i < node.getInputCount() ? node.getInput(i) : "";
  }
}
