package dev.lethe.onnx.grad;

import java.util.Map;
import java.util.TreeMap;

/**
 * The registry of backward rules by ONNX op type (default domain). Its key set equals
 * {@link dev.lethe.onnx.DifferentiableOps#SUPPORTED}. Immutable and thread-safe.
 */
public final class GradRules {
  private static final Map<String, GradRule> RULES = new TreeMap<>();

  static {
    GradRule reshaping = new ShapeRules.Reshaping();
    for (String op : new String[] {"Identity", "Dropout", "Flatten", "Reshape", "Squeeze", "Unsqueeze"}) {
      RULES.put(op, reshaping);
    }
    RULES.put("Transpose", new ShapeRules.Transpose());
    RULES.put("Concat", new ShapeRules.Concat());
    RULES.put("Add", new BinaryRules.Add());
    RULES.put("Sub", new BinaryRules.Sub());
    RULES.put("Mul", new BinaryRules.Mul());
    RULES.put("Div", new BinaryRules.Div());
    RULES.put("Neg", new UnaryRules.Neg());
    RULES.put("Relu", new UnaryRules.Relu());
    RULES.put("LeakyRelu", new UnaryRules.LeakyRelu());
    RULES.put("Sigmoid", new UnaryRules.Sigmoid());
    RULES.put("Tanh", new UnaryRules.Tanh());
    RULES.put("Exp", new UnaryRules.Exp());
    RULES.put("Log", new UnaryRules.Log());
    RULES.put("Sqrt", new UnaryRules.Sqrt());
    RULES.put("Pow", new UnaryRules.Pow());
    RULES.put("MatMul", new MatMulRules.MatMul());
    RULES.put("Gemm", new MatMulRules.Gemm());
    RULES.put("Softmax", new SoftmaxRules.Softmax(false));
    RULES.put("LogSoftmax", new SoftmaxRules.Softmax(true));
    RULES.put("ReduceSum", new ReduceRules.Reduce(false));
    RULES.put("ReduceMean", new ReduceRules.Reduce(true));
    RULES.put("GlobalAveragePool", new ReduceRules.GlobalAveragePool());
    RULES.put("LayerNormalization", new NormRules.LayerNorm());
    RULES.put("BatchNormalization", new NormRules.BatchNorm());
    RULES.put("Conv", new ConvRule());
    RULES.put("MaxPool", new PoolRules.MaxPool());
    RULES.put("AveragePool", new PoolRules.AveragePool());
  }

  private GradRules() {}

  /** The rule for {@code opType} in the default domain, or null when unsupported. */
  public static GradRule forOp(String domain, String opType) {
    if (domain != null && !domain.isEmpty() && !domain.equals("ai.onnx")) {
      return null;
    }
    return RULES.get(opType);
  }

  public static java.util.Set<String> supported() {
    return java.util.Collections.unmodifiableSet(RULES.keySet());
  }
}
