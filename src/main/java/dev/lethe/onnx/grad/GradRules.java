package dev.lethe.onnx.grad;

import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The whole of reverse mode as a table: ONNX op type (default domain) → {@link GradRule}, with
 * the number of leading inputs gradients flow through. It is the one list of the ops Lethe can
 * differentiate: an op on the path from an erasable parameter to the loss must be in it; ops
 * upstream of every erasable parameter (a frozen prefix) may be anything ONNX Runtime runs.
 * Adding an op is one entry here plus its test (and its name in docs/gradients.md). Immutable and
 * thread-safe.
 */
public final class GradRules {
  /** For ops whose every input is differentiable (Concat). */
  private static final int ALL = Integer.MAX_VALUE;
  private static final Map<String, Entry> RULES = new TreeMap<>();

  static {
    // ops that only move elements (one rule serves several ops)
    for (String op : new String[] {"Identity", "Dropout", "Flatten", "Reshape", "Squeeze", "Unsqueeze"}) {
      rule(op, 1, ShapeRules::reshaping);
    }
    rule("Transpose", 1, ShapeRules::transpose);
    rule("Concat", ALL, ShapeRules::concat);
    rule("Cast", 1, IndexRules::cast);
    rule("Expand", 1, IndexRules::expand);
    rule("Gather", 1, IndexRules::gather);
    rule("Slice", 1, IndexRules::slice);
    rule("Pad", 1, IndexRules::pad);
    RULES.put("Split", new Entry(0, 1, true, IndexRules::split));
    RULES.put("LSTM", new Entry(0, 8, true, RecurrentRules::lstm)); // Y, Y_h, Y_c
    RULES.put("GRU", new Entry(0, 8, true, RecurrentRules::gru)); // Y, Y_h
    RULES.put("Where", new Entry(1, 3, false, IndexRules::where)); // not the condition
    // broadcasting binary ops y = f(a, b): the contribution to input i at y's shape
    binary("Add", (i, g, a, b, y, e) -> g);
    binary("Sub", (i, g, a, b, y, e) -> i == 0 ? g : e.neg(g));
    binary("Mul", (i, g, a, b, y, e) -> e.mul(g, i == 0 ? b : a));
    binary("Div", (i, g, a, b, y, e) -> i == 0 ? e.div(g, b) : e.neg(e.div(e.mul(g, y), b))); // -g y / b
    // unary ops y = f(x) of node n: g * f'(x)
    unary("Neg", (n, g, x, y, e) -> e.neg(g));
    // derivative 0 at x = 0, as PyTorch
    unary("Relu", (n, g, x, y, e) -> e.op("Where", new String[] {positive(x, e), g, e.scalar(0)}));
    unary("LeakyRelu", (n, g, x, y, e) -> e.op("Where",
        new String[] {positive(x, e), g, e.mul(g, e.scalar(GradContext.attrFloat(n, "alpha", 0.01f)))}));
    unary("Sigmoid", (n, g, x, y, e) -> e.mul(g, e.mul(y, e.sub(e.scalar(1), y)))); // y (1 - y)
    unary("Tanh", (n, g, x, y, e) -> e.mul(g, e.sub(e.scalar(1), e.mul(y, y)))); // 1 - y^2
    unary("Exp", (n, g, x, y, e) -> e.mul(g, y));
    unary("Log", (n, g, x, y, e) -> e.div(g, x));
    unary("Sqrt", (n, g, x, y, e) -> e.div(e.mul(g, e.scalar(0.5)), y)); // 0.5 / y
    unary("Clip", ActivationRules::clip); // min, max are inputs 1, 2
    unary("HardSigmoid", ActivationRules::hardSigmoid);
    unary("HardSwish", ActivationRules::hardSwish);
    unary("Erf", ActivationRules::erf);
    unary("Gelu", ActivationRules::gelu);
    // the rest need shapes, attributes or checks of their own
    rule("Pow", 1, ElementwiseRules::pow);
    rule("MatMul", 2, MatMulRules::matMul);
    rule("Einsum", ALL, EinsumRules::einsum);
    rule("Gemm", 3, MatMulRules::gemm);
    for (String op : new String[] {"Softmax", "LogSoftmax"}) {
      rule(op, 1, SoftmaxRules::softmax);
    }
    for (String op : new String[] {"ReduceSum", "ReduceMean"}) {
      rule(op, 1, ReduceRules::reduce);
    }
    rule("GlobalAveragePool", 1, ReduceRules::globalAveragePool);
    rule("LayerNormalization", 3, NormRules::layerNorm);
    rule("BatchNormalization", 5, NormRules::batchNorm);
    rule("Conv", 3, WindowRules::conv);
    rule("MaxPool", 1, WindowRules::maxPool);
    rule("AveragePool", 1, WindowRules::averagePool);
  }

  /**
   * An op's rule and the inputs [firstInput, endInput) gradients flow through (shape, axes,
   * exponent and condition inputs do not). Only output 0 carries a gradient unless
   * {@code allOutputs} (Split).
   */
  public record Entry(int firstInput, int endInput, boolean allOutputs, GradRule rule) {
    public boolean differentiable(int input) {
      return input >= firstInput && input < endInput;
    }

    public boolean differentiableOutput(int output) {
      return allOutputs || output == 0;
    }
  }

  private GradRules() {}

  private static void rule(String op, int differentiableInputs, GradRule rule) {
    RULES.put(op, new Entry(0, differentiableInputs, false, rule));
  }

  private static void unary(String op, ElementwiseRules.Unary derivative) {
    rule(op, 1, ElementwiseRules.unary(derivative));
  }

  private static void binary(String op, ElementwiseRules.Binary contribution) {
    rule(op, 2, ElementwiseRules.broadcasting(contribution));
  }

  /** A boolean mask of x &gt; 0. */
  private static String positive(String x, Emitter e) {
    return e.op("Greater", new String[] {x, e.scalar(0)});
  }

  /** The entry for {@code opType} in the default domain, or null when Lethe cannot differentiate it. */
  public static Entry forOp(String domain, String opType) {
    if (domain != null && !domain.isEmpty() && !domain.equals("ai.onnx")) {
      return null;
    }
    return RULES.get(opType);
  }

  /** The differentiable op types, sorted (for messages that list them). */
  public static Set<String> supported() {
    return Collections.unmodifiableSet(RULES.keySet());
  }

  /**
   * Emits the im2col patches [N, C·K, O1..Os] of a Conv node's input (channel-major, then the
   * kernel offsets: the order of the weight's flattened [M, C, k1..ks] entries after M), as its
   * weight-gradient rule unfolds them; for Kronecker factors (KFC).
   */
  public static String convPatches(ai.onnx.proto.OnnxMl.NodeProto node, GradContext ctx) {
    return WindowRules.patches(node, ctx);
  }
}
