package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;
import java.util.List;
import java.util.Map;

/** The reverse-mode driver: walks the differentiated path backwards, applying {@link GradRules}. */
public final class Backward {
  private Backward() {}

  /**
   * Emits the backward pass from {@code root} (whose gradient is {@code rootGrad}) and returns
   * the gradient of every value that needs one and receives one, by name (the context's map). A
   * value used by more than one node (or twice by one) gets the sum of its contributions. A node
   * of a multi-output op runs when any output has a gradient (g may then be null).
   *
   * @param path the nodes between the erasable parameters and {@code root}, in topological order,
   *     every one with a rule in {@link GradRules}
   */
  public static Map<String, String> gradients(List<OnnxMl.NodeProto> path, String root, String rootGrad,
      GradContext ctx) {
    return gradients(path, Map.of(root, rootGrad), ctx);
  }

  /** As above, seeded with the gradients of several values (a decomposed multi-output op). */
  public static Map<String, String> gradients(List<OnnxMl.NodeProto> path, Map<String, String> seeds,
      GradContext ctx) {
    Map<String, String> grads = ctx.grads();
    grads.putAll(seeds);
    for (int i = path.size() - 1; i >= 0; i--) {
      OnnxMl.NodeProto node = path.get(i);
      GradRules.Entry entry = GradRules.forOp(node.getDomain(), node.getOpType());
      String g = grads.get(node.getOutput(0));
      boolean any = g != null || (entry.allOutputs() && node.getOutputList().stream().anyMatch(grads::containsKey));
      if (!any) {
        continue;
      }
      String[] inputGrads = entry.rule().backward(node, g, ctx);
      for (int k = 0; k < inputGrads.length; k++) {
        String x = GradContext.input(node, k);
        if (inputGrads[k] != null && ctx.needsGrad(x)) {
          grads.merge(x, inputGrads[k], ctx.emit()::add);
        }
      }
    }
    return grads;
  }
}
