package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Backward rules of the ops that select, place or broadcast elements: Gather, Slice, Split, Pad
 * (constant), Expand, Where and Cast. Indices, starts, pads and split sizes must be known when the
 * graph is built (initializers, Constant nodes or probed values), except Gather's indices into an
 * unbatched table (an embedding), which may be the fed data. No rule needs ScatterElements: a
 * selection's adjoint is a Pad, a Concat or a product with a one-hot matrix, so every rule works
 * from opset 13.
 */
final class IndexRules {
  private IndexRules() {}

  /**
   * Gather(data, indices; axis). An unbatched table read along axis 0 by indices not known at
   * build time (an embedding: batched token ids) gets per-sample gradient onehot(indices)ᵀ · g
   * ([N, V, ...]). With indices known at build time
   * the gradient is the product of g with the constant one-hot matrix of the indices, for batched
   * and unbatched data alike (the batch axis may not be gathered).
   */
  static String[] gather(OnnxMl.NodeProto node, String g, GradContext ctx) {
    String data = node.getInput(0);
    String indices = node.getInput(1);
    ValueMeta md = ctx.meta(data);
    ValueMeta mi = ctx.meta(indices);
    int axis = md.axis(GradContext.attrInt(node, "axis", 0));
    Emitter e = ctx.emit();
    long[] dShape = md.shape();
    long rest = 1;
    for (int i = axis + 1; i < dShape.length; i++) {
      rest *= dShape[i];
    }
    long[] known = ctx.constant(indices);
    if (known != null && !mi.batched()) {
      if (md.batched() && axis == 0) {
        throw GradContext.unsupported(node, "gathering along the batch axis");
      }
      long depth = dShape[axis];
      float[] m = new float[(int) (depth * known.length)];
      for (int i = 0; i < known.length; i++) {
        long k = known[i] < 0 ? known[i] + depth : known[i];
        m[(int) (k * known.length + i)] = 1f; // Mᵀ [depth, I]
      }
      String gg = e.reshape(g, -1, known.length, rest);
      String sum = e.matmul(e.floats(m, depth, known.length), gg);
      return new String[] {ctx.reshapeToSample(sum, md)};
    }
    if (!md.batched() && axis == 0) {
      // any indices (batched, or data-dependent in a graph run one sample at a time): the
      // one-hot product broadcasts over g's leading [N]
      long depth = dShape[0];
      long count = mi.sampleSize();
      String oneHot = e.op("OneHot", new String[] {indices, e.ints(depth), e.floats(new float[] {0, 1}, 2)}, "axis", -1L);
      String flat = e.reshape(oneHot, -1, count, depth);
      String sum = e.matmul(e.transpose(flat, 0, 2, 1), e.reshape(g, -1, count, rest));
      return new String[] {ctx.reshapeToSample(sum, md)};
    }
    throw GradContext.unsupported(node, "only an unbatched table gathered along axis 0 (an embedding), or "
        + "indices known when the graph is built, are differentiable");
  }

  /** Slice(data, starts, ends, axes, steps), all constant: a Pad of g for steps of 1, else a one-hot product. */
  static String[] slice(OnnxMl.NodeProto node, String g, GradContext ctx) {
    String x = node.getInput(0);
    ValueMeta mx = ctx.meta(x);
    long[] starts = required(node, ctx, 1);
    long[] ends = required(node, ctx, 2);
    long[] axes = optional(ctx, node, 3, starts.length, true);
    long[] steps = optional(ctx, node, 4, starts.length, false);
    Emitter e = ctx.emit();
    long[] shape = mx.shape();
    long[] ySample = ctx.meta(node.getOutput(0)).sampleShape();
    long[] padBegin = new long[shape.length];
    long[] padEnd = new long[shape.length];
    String cur = g;
    long[] curSample = ySample.clone();
    for (int k = 0; k < starts.length; k++) {
      int a = mx.axis(axes[k]);
      long dim = shape[a];
      long[] picked = picked(starts[k], ends[k], steps[k], dim);
      if (mx.batched() && a == 0) {
        throw GradContext.unsupported(node, "slicing along the batch axis");
      }
      if (steps[k] == 1) {
        padBegin[a] = picked.length == 0 ? 0 : picked[0];
        padEnd[a] = dim - padBegin[a] - picked.length;
        continue;
      }
      int ga = mx.gradAxis(a);
      cur = oneHotAlong(e, cur, curSample, ga, picked, dim);
      curSample[ga - 1] = dim;
    }
    long[] pads = new long[2 * (curSample.length + 1)];
    for (int a = 0; a < shape.length; a++) {
      int ga = mx.gradAxis(a);
      pads[ga] = padBegin[a];
      pads[ga + curSample.length + 1] = padEnd[a];
    }
    boolean any = Arrays.stream(pads).anyMatch(p -> p != 0);
    return new String[] {any ? e.op("Pad", new String[] {cur, e.ints(pads)}) : cur};
  }

  /** The indices a Slice picks along an axis of size dim (ONNX clamping rules). */
  static long[] picked(long start, long end, long step, long dim) {
    if (step == 0) {
      throw new IllegalArgumentException("step 0");
    }
    long s = start < 0 ? start + dim : start;
    long t = end < 0 ? end + dim : end;
    if (step > 0) {
      s = Math.max(0, Math.min(dim, s));
      t = Math.max(0, Math.min(dim, t));
    } else {
      s = Math.max(-1, Math.min(dim - 1, s));
      t = Math.max(-1, Math.min(dim - 1, t));
    }
    List<Long> out = new ArrayList<>();
    for (long i = s; step > 0 ? i < t : i > t; i += step) {
      out.add(i);
    }
    return out.stream().mapToLong(Long::longValue).toArray();
  }

  /** Places g's entries along grad axis {@code ga} at positions {@code picked} of a size-dim axis. */
  private static String oneHotAlong(Emitter e, String g, long[] gSample, int ga, long[] picked, long dim) {
    long before = 1;
    for (int i = 0; i < ga - 1; i++) {
      before *= gSample[i];
    }
    long after = 1;
    for (int i = ga; i < gSample.length; i++) {
      after *= gSample[i];
    }
    float[] m = new float[(int) (dim * picked.length)];
    for (int i = 0; i < picked.length; i++) {
      m[(int) (picked[i] * picked.length + i)] = 1f;
    }
    String gg = e.reshape(g, -1, before, picked.length, after);
    String placed = e.matmul(e.floats(m, dim, picked.length), gg);
    long[] out = gSample.clone();
    out[ga - 1] = dim;
    return e.reshape(placed, GradContext.prepend(-1, out));
  }

  /** Split(input, split; axis): the outputs' gradients (zeros where none) concatenated along the axis. */
  static String[] split(OnnxMl.NodeProto node, String g, GradContext ctx) {
    String x = node.getInput(0);
    ValueMeta mx = ctx.meta(x);
    int axis = mx.axis(GradContext.attrInt(node, "axis", 0));
    if (mx.batched() && axis == 0) {
      throw GradContext.unsupported(node, "splitting along the batch axis");
    }
    String like = null;
    for (String o : node.getOutputList()) {
      if (ctx.gradOf(o) != null) {
        like = ctx.gradOf(o);
      }
    }
    String[] parts = new String[node.getOutputCount()];
    for (int i = 0; i < parts.length; i++) {
      String o = node.getOutput(i);
      parts[i] = ctx.gradOf(o) != null ? ctx.gradOf(o) : ctx.zerosLike(o, like);
    }
    return new String[] {ctx.emit().op("Concat", parts, "axis", (long) mx.gradAxis(axis))};
  }

  /** Pad(data, pads, constant_value, axes) in constant mode with pads &ge; 0: g sliced back. */
  static String[] pad(OnnxMl.NodeProto node, String g, GradContext ctx) {
    if (!GradContext.attrString(node, "mode", "constant").equals("constant")) {
      throw GradContext.unsupported(node, "only mode 'constant' is differentiable");
    }
    String x = node.getInput(0);
    ValueMeta mx = ctx.meta(x);
    int r = mx.rank();
    long[] pads = GradContext.input(node, 1).isEmpty() ? GradContext.attrInts(node, "pads") : ctx.constant(node.getInput(1));
    if (pads == null) {
      throw GradContext.unsupported(node, "the pads are not known when the graph is built");
    }
    long[] axes = GradContext.input(node, 3).isEmpty() ? null : ctx.constant(node.getInput(3));
    if (axes == null) {
      axes = new long[r];
      for (int i = 0; i < r; i++) {
        axes[i] = i;
      }
    }
    Emitter e = ctx.emit();
    List<Long> starts = new ArrayList<>();
    List<Long> endsL = new ArrayList<>();
    List<Long> gAxes = new ArrayList<>();
    for (int k = 0; k < axes.length; k++) {
      int a = mx.axis(axes[k]);
      long b = pads[k];
      long end = pads[k + axes.length];
      if (b < 0 || end < 0) {
        throw GradContext.unsupported(node, "negative pads");
      }
      if (mx.batched() && a == 0 && (b != 0 || end != 0)) {
        throw GradContext.unsupported(node, "padding the batch axis");
      }
      if (b != 0 || end != 0) {
        starts.add(b);
        endsL.add(b + mx.shape()[a]);
        gAxes.add((long) mx.gradAxis(a));
      }
    }
    if (starts.isEmpty()) {
      return new String[] {g};
    }
    return new String[] {e.op("Slice", new String[] {g, e.ints(toArray(starts)), e.ints(toArray(endsL)),
        e.ints(toArray(gAxes))})};
  }

  /** Expand(x, shape): g summed back over the broadcast axes. */
  static String[] expand(OnnxMl.NodeProto node, String g, GradContext ctx) {
    return new String[] {unbroadcastTo(node, g, ctx, node.getInput(0))};
  }

  /** Where(condition, X, Y): g where the condition holds to X, elsewhere to Y, each unbroadcast. */
  static String[] where(OnnxMl.NodeProto node, String g, GradContext ctx) {
    Emitter e = ctx.emit();
    String c = node.getInput(0);
    String[] grads = new String[3];
    for (int i = 1; i <= 2; i++) {
      String v = node.getInput(i);
      if (ctx.needsGrad(v)) {
        String sel = i == 1 ? e.op("Where", new String[] {c, g, e.scalar(0)})
            : e.op("Where", new String[] {c, e.scalar(0), g});
        grads[i] = unbroadcastTo(node, sel, ctx, v);
      }
    }
    return grads;
  }

  /** Cast between float types: g cast back to the input's type. */
  static String[] cast(OnnxMl.NodeProto node, String g, GradContext ctx) {
    ValueMeta mx = ctx.meta(node.getInput(0));
    ValueMeta my = ctx.meta(node.getOutput(0));
    if (mx.elemType() == my.elemType()) {
      return new String[] {g};
    }
    return new String[] {ctx.emit().op("Cast", new String[] {g}, "to", (long) mx.elemType())};
  }

  private static String unbroadcastTo(OnnxMl.NodeProto node, String g, GradContext ctx, String x) {
    ValueMeta mx = ctx.meta(x);
    ValueMeta my = ctx.meta(node.getOutput(0));
    if (mx.batched() && mx.rank() != my.rank()) {
      throw GradContext.unsupported(node, "a batched operand of lower rank than the result "
          + "(its batch axis would not be axis 0)");
    }
    return ctx.unbroadcast(g, my.sampleShape(), mx);
  }

  private static long[] required(OnnxMl.NodeProto node, GradContext ctx, int i) {
    long[] v = ctx.constant(GradContext.input(node, i));
    if (v == null) {
      throw GradContext.unsupported(node, "input " + i + " is not known when the graph is built");
    }
    return v;
  }

  private static long[] optional(GradContext ctx, OnnxMl.NodeProto node, int i, int count, boolean axes) {
    String name = GradContext.input(node, i);
    if (!name.isEmpty()) {
      return required(node, ctx, i);
    }
    long[] v = new long[count];
    for (int k = 0; k < count; k++) {
      v[k] = axes ? k : 1;
    }
    return v;
  }

  private static long[] toArray(List<Long> v) {
    return v.stream().mapToLong(Long::longValue).toArray();
  }
}
