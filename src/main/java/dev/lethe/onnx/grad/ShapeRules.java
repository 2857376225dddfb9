package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;

/** Backward rules of ops that only move elements: Identity, Dropout, reshapes, Transpose, Concat. */
final class ShapeRules {
  private ShapeRules() {}

  /**
   * Identity, Dropout (inference: identity on output 0), Flatten, Reshape, Squeeze, Unsqueeze:
   * the per-sample element order is unchanged (the batch stays on axis 0, which the builder
   * checks), so the input gradient is the output gradient reshaped to [N] + x's sample shape.
   */
  static String[] reshaping(OnnxMl.NodeProto node, String g, GradContext ctx) {
    return new String[] {ctx.reshapeToSample(g, ctx.meta(node.getInput(0)))};
  }

  /** Transpose(perm): gradient transposed by the inverse permutation; the batch axis must stay. */
  static String[] transpose(OnnxMl.NodeProto node, String g, GradContext ctx) {
    ValueMeta mx = ctx.meta(node.getInput(0));
    int r = mx.rank();
    long[] perm = GradContext.attrInts(node, "perm");
    if (perm == null) {
      perm = new long[r];
      for (int i = 0; i < r; i++) {
        perm[i] = r - 1 - i;
      }
    }
    if (mx.batched() && perm[0] != 0) {
      throw GradContext.unsupported(node, "the permutation moves the batch axis");
    }
    long[] inv = new long[r];
    for (int i = 0; i < r; i++) {
      inv[(int) perm[i]] = i;
    }
    long[] gperm;
    if (mx.batched()) {
      gperm = inv;
    } else {
      gperm = new long[r + 1];
      for (int i = 0; i < r; i++) {
        gperm[i + 1] = inv[i] + 1;
      }
    }
    return new String[] {ctx.emit().transpose(g, gperm)};
  }

  /** Concat(axis): each input's gradient is its slice of the output gradient along the axis. */
  static String[] concat(OnnxMl.NodeProto node, String g, GradContext ctx) {
    ValueMeta my = ctx.meta(node.getOutput(0));
    long axis = GradContext.attrInt(node, "axis", 0);
    if (my.batched() && my.axis(axis) == 0) {
      throw GradContext.unsupported(node, "concatenation along the batch axis");
    }
    int gAxis = my.gradAxis(axis);
    String[] grads = new String[node.getInputCount()];
    long start = 0;
    for (int i = 0; i < grads.length; i++) {
      String x = node.getInput(i);
      ValueMeta mx = ctx.meta(x);
      if (mx.batched() != my.batched()) {
        throw GradContext.unsupported(node, "inputs mix batched and unbatched values");
      }
      long len = mx.shape()[mx.axis(axis)];
      if (ctx.needsGrad(x)) {
        Emitter e = ctx.emit();
        grads[i] = e.op("Slice", new String[] {g, e.ints(start), e.ints(start + len), e.ints(gAxis)});
      }
      start += len;
    }
    return grads;
  }
}
