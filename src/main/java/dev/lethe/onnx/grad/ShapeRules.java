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
   * except in a graph run one sample at a time, where a batched X may become a static Y ([N, S, E]
   * to [S, 1, E]): X's gradient is then formed at X's batch-1 shape and reshaped.
   */
  static String[] transpose(OnnxMl.NodeProto node, String g, GradContext ctx) {
    ValueMeta mx = ctx.meta(node.getInput(0));
    boolean leaves = mx.batched() && !ctx.meta(node.getOutput(0)).batched();
    if (leaves) {
      mx = new ValueMeta(mx.name(), mx.elemType(), mx.shape(), false);
    }
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
    String gx = ctx.emit().transpose(g, gperm);
    return new String[] {leaves ? ctx.reshapeToSample(gx, ctx.meta(node.getInput(0))) : gx};
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
