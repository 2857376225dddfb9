package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;

/**
 * The backward rule of Softmax and LogSoftmax (opset 13 semantics: one axis, default -1).
 * Softmax: g_x = y (g - sum(g y)); LogSoftmax: g_x = g - exp(y) sum(g), sums over the axis.
 */
final class SoftmaxRules {
  private SoftmaxRules() {}

  static String[] softmax(OnnxMl.NodeProto node, String g, GradContext ctx) {
    String y = node.getOutput(0);
    ValueMeta my = ctx.meta(y);
    int axis = my.axis(GradContext.attrInt(node, "axis", -1));
    if (my.batched() && axis == 0) {
      throw GradContext.unsupported(node, "softmax over the batch axis");
    }
    Emitter e = ctx.emit();
    long[] gAxis = {my.gradAxis(axis)};
    if (node.getOpType().equals("LogSoftmax")) {
      String sum = e.reduceSum(g, gAxis, true);
      String p = e.op("Exp", new String[] {y});
      return new String[] {e.sub(g, e.mul(p, sum))};
    }
    String sum = e.reduceSum(e.mul(g, y), gAxis, true);
    return new String[] {e.mul(y, e.sub(g, sum))};
  }
}
