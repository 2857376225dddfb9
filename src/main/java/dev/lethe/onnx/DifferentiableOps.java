package dev.lethe.onnx;

import java.util.Set;
import java.util.TreeSet;

/**
 * The ONNX op types Lethe can differentiate (reverse mode). An op on the path from an erasable
 * parameter to the loss must be one of these; ops upstream of every erasable parameter (a frozen
 * prefix) may be anything ONNX Runtime runs.
 */
public final class DifferentiableOps {
  /** Sorted, for messages that list the supported set. */
  public static final Set<String> SUPPORTED =
      new TreeSet<>(
          Set.of(
              "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Neg", "Relu", "LeakyRelu",
              "Sigmoid", "Tanh", "Exp", "Log", "Softmax", "LogSoftmax", "Identity", "Dropout",
              "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Concat", "ReduceMean",
              "ReduceSum", "Pow", "Sqrt", "LayerNormalization", "BatchNormalization", "Conv",
              "MaxPool", "AveragePool", "GlobalAveragePool"));

  private DifferentiableOps() {}

  public static boolean isSupported(String opType) {
    return SUPPORTED.contains(opType);
  }
}
