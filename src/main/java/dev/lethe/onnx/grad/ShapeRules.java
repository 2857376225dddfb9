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

  /**
   * Transpose(perm): gradient transposed by the inverse permutation; the batch axis must stay,
   * except in a graph run one sample at a time, where a value may move between batched and static
   * ([N, S, E] to [S, 1, E] and back): the gradient is then transposed at the values' batch-1
   * shapes and reshaped.
   */
  static String[] transpose(OnnxMl.NodeProto node, String g, GradContext ctx) {
    ValueMeta mx = ctx.meta(node.getInput(0));
    ValueMeta my = ctx.meta(node.getOutput(0));
    int r = mx.rank();
    long[] perm = GradContext.attrInts(node, "perm");
    if (perm == null) {
      perm = new long[r];
      for (int i = 0; i < r; i++) {
        perm[i] = r - 1 - i;
      }
    }
    long[] inv = new long[r];
    for (int i = 0; i < r; i++) {
      inv[(int) perm[i]] = i;
    }
    Emitter e = ctx.emit();
    if (mx.batched() != my.batched() || (mx.batched() && perm[0] != 0)) {
      // only in a graph run one sample at a time (a moved batch axis is never on axis 0 at
      // batch sizes 2 and 3, so the analysis ran the graph per sample): N = 1
      long[] one = my.shape().clone();
      for (int i = 0; i < one.length; i++) {
        one[i] = one[i] < 0 ? 1 : one[i];
      }
      return new String[] {ctx.reshapeToSample(e.transpose(e.reshape(g, one), inv), mx)};
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
    return new String[] {e.transpose(g, gperm)};
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
      if (mx.batched() && my.batched() != mx.batched() && mx.rank() != my.rank()) {
        throw GradContext.unsupported(node, "inputs mix batched and unbatched values");
      }
      // a batched input of a static result (a graph run one sample at a time) has batch 1
      long len = mx.batched() && mx.axis(axis) == 0 ? 1 : mx.shape()[mx.axis(axis)];
      if (ctx.needsGrad(x)) {
        Emitter e = ctx.emit();
        String part = e.op("Slice", new String[] {g, e.ints(start), e.ints(start + len), e.ints(gAxis)});
        grads[i] = mx.batched() == my.batched() ? part : ctx.reshapeToSample(part, mx);
      }
      start += len;
    }
    return grads;
  }
}
