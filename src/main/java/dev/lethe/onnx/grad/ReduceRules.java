package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;
import java.util.Arrays;
import java.util.TreeSet;

/**
 * Backward rules of ReduceSum, ReduceMean (axes as attribute before opsets 13 / 18, as input
 * since; keepdims; noop_with_empty_axes) and GlobalAveragePool: the output gradient is reshaped
 * to the kept-dims shape and broadcast back over the reduced axes (divided by the count for
 * means). Reducing over the batch axis is refused.
 */
final class ReduceRules {
  private ReduceRules() {}

  static String[] reduce(OnnxMl.NodeProto node, String g, GradContext ctx) {
    String x = node.getInput(0);
    ValueMeta mx = ctx.meta(x);
    long[] axes = GradContext.attrInts(node, "axes");
    String axesInput = GradContext.input(node, 1);
    if (!axesInput.isEmpty()) {
      axes = ctx.constant(axesInput);
      if (axes == null) {
        throw GradContext.unsupported(node, "the axes input is not a constant");
      }
    }
    TreeSet<Integer> reduced = new TreeSet<>();
    if (axes == null || axes.length == 0) {
      if (GradContext.attrInt(node, "noop_with_empty_axes", 0) != 0) {
        return new String[] {g};
      }
      for (int i = 0; i < mx.rank(); i++) {
        reduced.add(i);
      }
    } else {
      for (long a : axes) {
        reduced.add(mx.axis(a));
      }
    }
    if (mx.batched() && reduced.contains(0)) {
      throw GradContext.unsupported(node, "reduction over the batch axis");
    }
    return new String[] {spread(ctx, g, mx, reduced, node.getOpType().equals("ReduceMean"))};
  }

  /** GlobalAveragePool: mean over every axis after the channel axis (keepdims). */
  static String[] globalAveragePool(OnnxMl.NodeProto node, String g, GradContext ctx) {
    ValueMeta mx = ctx.meta(node.getInput(0));
    TreeSet<Integer> reduced = new TreeSet<>();
    for (int i = 2; i < mx.rank(); i++) {
      reduced.add(i);
    }
    return new String[] {spread(ctx, g, mx, reduced, true)};
  }

  /** Broadcasts g back over the {@code reduced} axes of x (actual axes), scaled for a mean. */
  static String spread(GradContext ctx, String g, ValueMeta mx, TreeSet<Integer> reduced, boolean mean) {
    Emitter e = ctx.emit();
    long[] kept = mx.shape().clone();
    long count = 1;
    for (int a : reduced) {
      count *= kept[a];
      kept[a] = 1;
    }
    long[] keptSample = mx.batched() ? Arrays.copyOfRange(kept, 1, kept.length) : kept;
    String r = e.reshape(g, GradContext.prepend(-1, keptSample));
    String full = e.op("Expand", new String[] {r, e.ints(GradContext.prepend(1, mx.sampleShape()))});
    return mean ? e.scale(full, 1.0 / count) : full;
  }
}
