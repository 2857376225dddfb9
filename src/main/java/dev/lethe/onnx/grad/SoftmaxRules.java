package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;

/**
 * Backward rules of Softmax and LogSoftmax (opset 13 semantics: one axis, default -1).
 * Softmax: g_x = y (g - sum(g y)); LogSoftmax: g_x = g - exp(y) sum(g), sums over the axis.
 */
final class SoftmaxRules {
  private SoftmaxRules() {}

  static final class Softmax implements GradRule {
    private final boolean log;

    Softmax(boolean log) {
      this.log = log;
    }

    @Override
    public void backward(OnnxMl.NodeProto node, GradContext ctx) {
      String y = node.getOutput(0);
      String g = ctx.grad(y);
      String x = node.getInput(0);
      if (g == null || !ctx.needsGrad(x)) {
        return;
      }
      ValueMeta my = ctx.meta(y);
      int axis = my.axis(GradContext.attrInt(node, "axis", -1));
      if (my.batched() && axis == 0) {
        throw GradContext.unsupported(node, "softmax over the batch axis");
      }
      Emitter e = ctx.emit();
      long[] gAxis = {my.gradAxis(axis)};
      if (log) {
        String sum = e.reduceSum(g, gAxis, true);
        String p = e.op("Exp", new String[] {y});
        ctx.accumulate(x, e.sub(g, e.mul(p, sum)));
      } else {
        String sum = e.reduceSum(e.mul(g, y), gAxis, true);
        ctx.accumulate(x, e.mul(y, e.sub(g, sum)));
      }
    }
  }
}
