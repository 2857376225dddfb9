package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;
import java.util.Arrays;

/**
 * Backward rules of LayerNormalization and BatchNormalization (inference mode). Statistics are
 * recomputed in the backward part from X; only output 0 (Y) may carry a gradient. BatchNorm's X
 * must be batched ([N, C, ...]); LayerNorm's may also be a static value of a graph run one sample
 * at a time ([S, 1, E] in attention). Scale, bias, mean and variance get one gradient slice per
 * sample.
 */
final class NormRules {
  private NormRules() {}

  /** LayerNormalization(X, Scale, B; axis = -1, epsilon = 1e-5) over axes [axis, rank). */
  static String[] layerNorm(OnnxMl.NodeProto node, String g, GradContext ctx) {
    String x = node.getInput(0);
    String scale = node.getInput(1);
    String bias = GradContext.input(node, 2);
    ValueMeta mx = ctx.meta(x);
    int axis = mx.axis(GradContext.attrInt(node, "axis", -1));
    if (mx.batched() && axis == 0) {
      throw GradContext.unsupported(node, "normalisation over the batch axis");
    }
    Emitter e = ctx.emit();
    long[] axes = new long[mx.rank() - axis];
    long[] gAxes = new long[axes.length]; // the same axes of a gradient ([N] + sample shape)
    long d = 1;
    for (int i = axis; i < mx.rank(); i++) {
      axes[i - axis] = i;
      gAxes[i - axis] = mx.gradAxis(i);
      d *= mx.shape()[i];
    }
    double eps = GradContext.attrFloat(node, "epsilon", 1e-5f);
    String mu = e.scale(e.reduceSum(x, axes, true), 1.0 / d);
    String xc = e.sub(x, mu);
    String var = e.scale(e.reduceSum(e.mul(xc, xc), axes, true), 1.0 / d);
    String rstd = e.op("Reciprocal", new String[] {e.op("Sqrt", new String[] {e.add(var, e.scalar(eps))})});
    String xhat = e.mul(xc, rstd);
    long[] ySample = ctx.meta(node.getOutput(0)).sampleShape();
    String[] grads = new String[3];
    if (ctx.needsGrad(scale)) {
      grads[1] = ctx.unbroadcast(e.mul(g, xhat), ySample, ctx.meta(scale));
    }
    if (ctx.needsGrad(bias)) {
      grads[2] = ctx.unbroadcast(g, ySample, ctx.meta(bias));
    }
    if (ctx.needsGrad(x)) {
      String gh = e.mul(g, scale);
      String m1 = e.scale(e.reduceSum(gh, gAxes, true), 1.0 / d);
      String m2 = e.scale(e.reduceSum(e.mul(gh, xhat), gAxes, true), 1.0 / d);
      grads[0] = e.mul(rstd, e.sub(e.sub(gh, m1), e.mul(xhat, m2)));
    }
    return grads;
  }

  /**
   * BatchNormalization(X [N, C, ...], scale, B, mean, var; epsilon = 1e-5) in inference mode:
   * Y = (X - mean) / sqrt(var + eps) * scale + B per channel. training_mode = 1 is refused.
   */
  static String[] batchNorm(OnnxMl.NodeProto node, String g, GradContext ctx) {
    if (GradContext.attrInt(node, "training_mode", 0) != 0) {
      throw GradContext.unsupported(node, "training_mode = 1 (batch statistics mix samples)");
    }
    String x = node.getInput(0);
    String scale = node.getInput(1);
    String bias = node.getInput(2);
    String mean = node.getInput(3);
    String var = node.getInput(4);
    ValueMeta mx = ctx.meta(x);
    if (!mx.batched() || mx.rank() < 2) {
      throw GradContext.unsupported(node, "X must be batched [N, C, ...]");
    }
    Emitter e = ctx.emit();
    int r = mx.rank();
    long c = mx.shape()[1];
    long[] chanShape = new long[r - 1];
    Arrays.fill(chanShape, 1);
    chanShape[0] = c;
    long[] spatial = new long[r - 2];
    for (int i = 2; i < r; i++) {
      spatial[i - 2] = i;
    }
    double eps = GradContext.attrFloat(node, "epsilon", 1e-5f);
    String inv = e.op("Reciprocal", new String[] {e.op("Sqrt", new String[] {e.add(var, e.scalar(eps))})});
    String k = e.mul(scale, inv);
    String[] grads = new String[5];
    if (ctx.needsGrad(x)) {
      grads[0] = e.mul(g, e.reshape(k, chanShape));
    }
    String gSum = null;
    if (ctx.needsGrad(bias) || ctx.needsGrad(mean)) {
      gSum = e.reduceSum(g, spatial, false);
    }
    if (ctx.needsGrad(bias)) {
      grads[2] = ctx.reshapeToSample(gSum, ctx.meta(bias));
    }
    if (ctx.needsGrad(mean)) {
      grads[3] = ctx.reshapeToSample(e.neg(e.mul(gSum, k)), ctx.meta(mean));
    }
    if (ctx.needsGrad(scale) || ctx.needsGrad(var)) {
      String xc = e.sub(x, e.reshape(mean, chanShape));
      String gxc = e.reduceSum(e.mul(g, xc), spatial, false);
      if (ctx.needsGrad(scale)) {
        grads[1] = ctx.reshapeToSample(e.mul(gxc, inv), ctx.meta(scale));
      }
      if (ctx.needsGrad(var)) {
        String inv3 = e.mul(inv, e.mul(inv, inv));
        String gv = e.mul(gxc, e.mul(scale, e.scale(inv3, -0.5)));
        grads[4] = ctx.reshapeToSample(gv, ctx.meta(var));
      }
    }
    return grads;
  }
}
