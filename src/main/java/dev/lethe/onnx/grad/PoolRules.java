package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;
import java.util.ArrayList;
import java.util.List;

/**
 * Backward rules of MaxPool and AveragePool over any number of spatial axes (X batched
 * [N, C, ...]).
 */
final class PoolRules {
  private PoolRules() {}

  /**
   * MaxPool: the gradient goes to the arg-max of each window. The pool is re-run with its Indices
   * output (flat indices into X, storage_order 0) and g is scatter-added there (ScatterElements,
   * reduction "add" from opset 16; before that only disjoint windows, where plain scatter is
   * exact).
   */
  static final class MaxPool implements GradRule {
    @Override
    public void backward(OnnxMl.NodeProto node, GradContext ctx) {
      String g = ctx.grad(node.getOutput(0));
      String x = node.getInput(0);
      if (g == null || !ctx.needsGrad(x)) {
        return;
      }
      ValueMeta mx = ctx.meta(x);
      if (!mx.batched()) {
        throw GradContext.unsupported(node, "X must be batched [N, C, ...]");
      }
      long[] kernel = GradContext.attrInts(node, "kernel_shape");
      Windows win = Windows.of(node, kernel, mx.shape(), ctx.meta(node.getOutput(0)).shape());
      boolean add = ctx.opset() >= 16;
      if (!add && !win.disjoint()) {
        throw GradContext.unsupported(node, "overlapping windows need opset 16 (ScatterElements add)");
      }
      Emitter e = ctx.emit();
      List<Object> attrs = new ArrayList<>();
      for (OnnxMl.AttributeProto a : node.getAttributeList()) {
        if (!a.getName().equals("storage_order")) {
          attrs.add(a.getName());
          attrs.add(attrValue(a));
        }
      }
      String[] outs = e.opN("MaxPool", new String[] {x}, 2, attrs.toArray());
      String flatX = e.reshape(x, 1, -1);
      String zeros = e.op("ConstantOfShape", new String[] {e.op("Shape", new String[] {flatX})});
      String idx = e.reshape(outs[1], 1, -1);
      String upd = e.reshape(g, 1, -1);
      String scattered = add
          ? e.op("ScatterElements", new String[] {zeros, idx, upd}, "axis", 1L, "reduction", "add")
          : e.op("ScatterElements", new String[] {zeros, idx, upd}, "axis", 1L);
      ctx.accumulate(x, ctx.reshapeToSample(scattered, mx));
    }
  }

  /**
   * AveragePool: each window's gradient divided by its element count and spread back with a
   * depthwise ConvTranspose of ones. With count_include_pad = 0 and pads, the count per output
   * position comes from a Conv of ones. ceil_mode = 1 is refused.
   */
  static final class AveragePool implements GradRule {
    @Override
    public void backward(OnnxMl.NodeProto node, GradContext ctx) {
      String g = ctx.grad(node.getOutput(0));
      String x = node.getInput(0);
      if (g == null || !ctx.needsGrad(x)) {
        return;
      }
      ValueMeta mx = ctx.meta(x);
      if (!mx.batched()) {
        throw GradContext.unsupported(node, "X must be batched [N, C, ...]");
      }
      if (GradContext.attrInt(node, "ceil_mode", 0) != 0) {
        throw GradContext.unsupported(node, "ceil_mode = 1");
      }
      long[] kernel = GradContext.attrInts(node, "kernel_shape");
      Windows win = Windows.of(node, kernel, mx.shape(), ctx.meta(node.getOutput(0)).shape());
      Emitter e = ctx.emit();
      long c = mx.shape()[1];
      int s = win.spatial();
      long k = win.kernelSize();
      boolean padded = false;
      for (long p : win.pads()) {
        padded |= p != 0;
      }
      String scaled;
      if (padded && GradContext.attrInt(node, "count_include_pad", 0) == 0) {
        long in = 1;
        for (long d : win.in()) {
          in *= d;
        }
        String ones = e.floats(filled((int) in), dims(1, 1, win.in()));
        String kOnes = e.floats(filled((int) k), dims(1, 1, kernel));
        String counts = e.op("Conv", new String[] {ones, kOnes}, "strides", win.strides(),
            "dilations", win.dilations(), "pads", win.pads(), "kernel_shape", kernel);
        scaled = e.div(g, counts);
      } else {
        scaled = e.scale(g, 1.0 / k);
      }
      String w = e.floats(filled((int) (c * k)), dims(c, 1, kernel));
      ctx.accumulate(x, win.adjoint(e, scaled, w, c));
      assert s > 0;
    }
  }

  static float[] filled(int n) {
    float[] v = new float[n];
    java.util.Arrays.fill(v, 1f);
    return v;
  }

  static long[] dims(long a, long b, long[] rest) {
    long[] r = new long[rest.length + 2];
    r[0] = a;
    r[1] = b;
    System.arraycopy(rest, 0, r, 2, rest.length);
    return r;
  }

  static Object attrValue(OnnxMl.AttributeProto a) {
    switch (a.getType()) {
      case INT:
        return a.getI();
      case FLOAT:
        return a.getF();
      case INTS:
        return a.getIntsList().stream().mapToLong(Long::longValue).toArray();
      case STRING:
        return a.getS().toStringUtf8();
      default:
        throw new IllegalArgumentException("unexpected attribute type " + a.getType());
    }
  }
}
