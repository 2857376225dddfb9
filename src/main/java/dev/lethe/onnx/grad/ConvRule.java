package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;
import java.util.Arrays;

/**
 * Backward rule of a 2-D Conv(X [N, C, H, W], W [M, C/g, kh, kw], B [M]; strides, pads,
 * dilations, group, auto_pad).
 *
 * <ul>
 *   <li>g_X = ConvTranspose(g, W) with the same geometry (output_padding fitted to X).
 *   <li>per-sample g_W by im2col: a depthwise Conv of X with one-hot kernels unfolds every window
 *       into patches [N, C·kh·kw, Ho, Wo]; then, per group, g_W[n] = g[n] (M/g × L) ·
 *       patches[n]ᵀ (L × C/g·kh·kw), one batched MatMul over [N, g] (L = Ho·Wo). No sum over n.
 *   <li>per-sample g_B = sum of g over (Ho, Wo): [N, M].
 * </ul>
 */
final class ConvRule implements GradRule {

  @Override
  public boolean differentiable(OnnxMl.NodeProto node, int index) {
    return index < 3;
  }

  @Override
  public void backward(OnnxMl.NodeProto node, GradContext ctx) {
    String y = node.getOutput(0);
    String g = ctx.grad(y);
    if (g == null) {
      return;
    }
    String x = node.getInput(0);
    String w = node.getInput(1);
    String b = GradContext.input(node, 2);
    ValueMeta mx = ctx.meta(x);
    ValueMeta mw = ctx.meta(w);
    if (mx.rank() != 4 || !mx.batched() || mw.batched()) {
      throw GradContext.unsupported(node, "only 2-D convolution of a batched X [N, C, H, W] by an "
          + "unbatched kernel is differentiable");
    }
    long[] ws = mw.shape();
    Windows win = Windows.of(node, new long[] {ws[2], ws[3]}, mx.shape(), ctx.meta(y).shape());
    long group = GradContext.attrInt(node, "group", 1);
    Emitter e = ctx.emit();
    if (ctx.needsGrad(x)) {
      ctx.accumulate(x, win.adjoint(e, g, w, group));
    }
    if (ctx.needsGrad(b)) {
      ctx.accumulate(b, ctx.reshapeToSample(e.reduceSum(g, new long[] {2, 3}, false), ctx.meta(b)));
    }
    if (ctx.needsGrad(w)) {
      ctx.accumulate(w, weightGrad(e, x, g, mx.shape()[1], ws, group, win));
    }
  }

  private static String weightGrad(Emitter e, String x, String g, long c, long[] ws, long group, Windows win) {
    long kh = ws[2];
    long kw = ws[3];
    long kk = kh * kw;
    long m = ws[0];
    float[] eye = new float[(int) (c * kk * kk)];
    for (int ch = 0; ch < c; ch++) {
      for (int k = 0; k < kk; k++) {
        eye[(int) ((ch * kk + k) * kk + k)] = 1f;
      }
    }
    String unfoldKernel = e.floats(eye, c * kk, 1, kh, kw);
    String patches = e.op("Conv", new String[] {x, unfoldKernel}, "strides", win.strides(),
        "dilations", win.dilations(), "pads", win.pads(), "group", c, "kernel_shape", new long[] {kh, kw});
    long l = win.out()[0] * win.out()[1];
    String p = e.reshape(patches, -1, group, c / group * kk, l);
    String gg = e.reshape(g, -1, group, m / group, l);
    String prod = e.matmul(gg, e.transpose(p, 0, 1, 3, 2));
    return e.reshape(prod, GradContext.prepend(-1, Arrays.copyOf(ws, 4)));
  }
}
