package dev.lethe.onnx;

import dev.lethe.core.LossFunction;
import dev.lethe.onnx.grad.Emitter;

/** The loss heads {@link GradientGraph} emits at the logits, and its names' prefix. Stateless. */
final class LossEmission {
  private LossEmission() {}

  /**
   * Emits the per-sample data loss [N] and its gradient at the flattened logits z [N, C], in
   * numerically stable forms (log-softmax; softplus of −|z|).
   */
  static String[] lossHead(Emitter e, String z, LossFunction loss, long classes) {
    switch (loss) {
      case SOFTMAX_CROSS_ENTROPY: {
        String ls = e.op("LogSoftmax", new String[] {z}, "axis", 1L);
        String picked = e.op("GatherElements", new String[] {ls, e.unsqueeze(GradientGraph.LABELS, 1)}, "axis", 1L);
        String data = e.neg(e.reshape(picked, -1));
        String onehot = e.op("OneHot", new String[] {GradientGraph.LABELS, e.ints(classes), e.floats(new float[] {0, 1}, 2)},
            "axis", -1L);
        return new String[] {data, e.sub(e.op("Exp", new String[] {ls}), onehot)};
      }
      case SIGMOID_BINARY_CROSS_ENTROPY: {
        String softplus = e.op("Log", new String[] {e.add(e.scalar(1),
            e.op("Exp", new String[] {e.neg(e.op("Abs", new String[] {z}))}))});
        String l = e.add(e.sub(e.op("Relu", new String[] {z}), e.mul(z, GradientGraph.LABELS)), softplus);
        String data = e.op("ReduceSum", new String[] {l, e.ints(1)}, "keepdims", 0L);
        return new String[] {data, e.sub(e.op("Sigmoid", new String[] {z}), GradientGraph.LABELS)};
      }
      case MEAN_SQUARED_ERROR: {
        String d = e.sub(z, GradientGraph.LABELS);
        String data = e.scale(e.op("ReduceSum", new String[] {e.mul(d, d), e.ints(1)}, "keepdims", 0L), 1.0 / classes);
        return new String[] {data, e.scale(d, 2.0 / classes)};
      }
      default:
        throw new IllegalArgumentException("unknown loss " + loss);
    }
  }

  /** A prefix for the emitted values that no value of the forward graph starts with. */
  static String freshPrefix(ForwardAnalysis fa) {
    String prefix = "lethe_bwd/";
    while (true) {
      final String p = prefix;
      boolean clash = fa.meta.keySet().stream().anyMatch(n -> n.startsWith(p))
          || fa.nodes.stream().anyMatch(n -> n.getOutputList().stream().anyMatch(o -> o.startsWith(p)));
      if (!clash) {
        return prefix;
      }
      prefix = "_" + prefix;
    }
  }
}
