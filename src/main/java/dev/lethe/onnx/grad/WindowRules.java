package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Backward rules of the sliding-window ops (geometry in {@link Windows}): MaxPool and AveragePool
 * over any number of spatial axes, and 1-D, 2-D and 3-D Conv. X must be batched [N, C, ...].
 */
final class WindowRules {
  private WindowRules() {}

  /**
   * MaxPool: the gradient goes to the arg-max of each window. The pool is re-run with its Indices
   * output (flat indices into X, storage_order 0). From opset 16, or with disjoint windows, g is
   * scattered there (ScatterElements, reduction "add" from opset 16; plain scatter is exact for
   * disjoint windows). Overlapping windows before opset 16 (resnet's 3×3/2 stem pool at torch's
   * default opsets) use {@link #maxPoolByOffsets}, which needs no scatter.
   */
  static String[] maxPool(OnnxMl.NodeProto node, String g, GradContext ctx) {
    String x = node.getInput(0);
    Windows win = windows(node, ctx);
    boolean add = ctx.opset() >= 16;
    Emitter e = ctx.emit();
    String[] outs = e.opN("MaxPool", new String[] {x}, 2, poolAttributes(node));
    if (!add && !win.disjoint()) {
      return new String[] {maxPoolByOffsets(node, ctx, win, outs[1], g)};
    }
    String flatX = e.reshape(x, 1, -1);
    String zeros = e.op("ConstantOfShape", new String[] {e.op("Shape", new String[] {flatX})});
    String idx = e.reshape(outs[1], 1, -1);
    String upd = e.reshape(g, 1, -1);
    String scattered = add
        ? e.op("ScatterElements", new String[] {zeros, idx, upd}, "axis", 1L, "reduction", "add")
        : e.op("ScatterElements", new String[] {zeros, idx, upd}, "axis", 1L);
    return new String[] {ctx.reshapeToSample(scattered, ctx.meta(x))};
  }

  /**
   * The MaxPool gradient as a sum over the K kernel offsets: for offset k, the windows whose
   * arg-max is at that offset pass g on (a mask from comparing the Indices with the constant input
   * position of offset k in each window, −1 in the padding), and a grouped ConvTranspose with
   * one-hot kernels puts each offset's values back at their input positions, adding where windows
   * overlap. Intermediate size: K × the pool's output.
   */
  private static String maxPoolByOffsets(OnnxMl.NodeProto node, GradContext ctx, Windows win, String indices,
      String g) {
    Emitter e = ctx.emit();
    ValueMeta mx = ctx.meta(node.getInput(0));
    long c = mx.shape()[1];
    int s = win.spatial();
    long k = win.kernelSize();
    long in = 1;
    long out = 1;
    for (int i = 0; i < s; i++) {
      in *= win.in()[i];
      out *= win.out()[i];
    }
    for (long p : win.outputPadding()) {
      if (p < 0) {
        throw GradContext.unsupported(node, "windows past the end of the input (ceil_mode)");
      }
    }
    long[] pos = new long[(int) (k * out)];
    long[] kIdx = new long[s];
    long[] oIdx = new long[s];
    for (int kk = 0; kk < k; kk++) {
      unflatten(kk, win.kernel(), kIdx);
      for (int o = 0; o < out; o++) {
        unflatten(o, win.out(), oIdx);
        long flat = 0;
        for (int d = 0; d < s; d++) {
          long at = oIdx[d] * win.strides()[d] - win.pads()[d] + kIdx[d] * win.dilations()[d];
          if (at < 0 || at >= win.in()[d]) {
            flat = -1;
            break;
          }
          flat = flat * win.in()[d] + at;
        }
        pos[(int) (kk * out + o)] = flat;
      }
    }
    long[] posDims = new long[s + 1];
    posDims[0] = k;
    System.arraycopy(win.out(), 0, posDims, 1, s);
    String posT = e.ints(pos);
    String local = e.op("Mod", new String[] {indices, e.ints(in)});
    String mask = e.op("Equal", new String[] {e.unsqueeze(local, 2), e.reshape(posT, posDims)});
    String sel = e.op("Where", new String[] {mask, e.unsqueeze(g, 2), e.scalar(0)});
    long[] stacked = new long[s + 2];
    stacked[0] = -1;
    stacked[1] = c * k;
    System.arraycopy(win.out(), 0, stacked, 2, s);
    float[] oneHot = new float[(int) (c * k * k)];
    for (int ch = 0; ch < c; ch++) {
      for (int kk = 0; kk < k; kk++) {
        oneHot[(int) ((ch * k + kk) * k + kk)] = 1f;
      }
    }
    String w = e.floats(oneHot, dims(c * k, 1, win.kernel()));
    return win.adjoint(e, e.reshape(sel, stacked), w, c);
  }

  private static void unflatten(long flat, long[] dims, long[] out) {
    for (int d = dims.length - 1; d >= 0; d--) {
      out[d] = flat % dims[d];
      flat /= dims[d];
    }
  }

  private static Object[] poolAttributes(OnnxMl.NodeProto node) {
    List<Object> attrs = new ArrayList<>();
    for (OnnxMl.AttributeProto a : node.getAttributeList()) {
      if (!a.getName().equals("storage_order")) {
        attrs.add(a.getName());
        attrs.add(attrValue(a));
      }
    }
    return attrs.toArray();
  }

  /**
   * AveragePool: each window's gradient divided by its element count and spread back with a
   * depthwise ConvTranspose of ones. With count_include_pad = 0 and pads, the count per output
   * position comes from a Conv of ones. ceil_mode = 1 is refused.
   */
  static String[] averagePool(OnnxMl.NodeProto node, String g, GradContext ctx) {
    Windows win = windows(node, ctx);
    if (GradContext.attrInt(node, "ceil_mode", 0) != 0) {
      throw GradContext.unsupported(node, "ceil_mode = 1");
    }
    long[] kernel = win.kernel();
    Emitter e = ctx.emit();
    long c = ctx.meta(node.getInput(0)).shape()[1];
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
    return new String[] {win.adjoint(e, scaled, w, c)};
  }

  /**
   * Conv(X [N, C, D1..Ds], W [M, C/g, k1..ks], B [M]; strides, pads, dilations, group, auto_pad)
   * over s = 1, 2 or 3 spatial axes (Conv1d, Conv2d, Conv3d exports).
   *
   * <ul>
   *   <li>g_X = ConvTranspose(g, W) with the same geometry (output_padding fitted to X).
   *   <li>per-sample g_W by im2col: a depthwise Conv of X with one-hot kernels unfolds every window
   *       into patches [N, C·K, O1..Os] (K = k1⋯ks); then, per group, g_W[n] = g[n] (M/g × L) ·
   *       patches[n]ᵀ (L × C/g·K), one batched MatMul over [N, g] (L = O1⋯Os). No sum over n.
   *   <li>per-sample g_B = sum of g over the spatial axes: [N, M].
   * </ul>
   */
  static String[] conv(OnnxMl.NodeProto node, String g, GradContext ctx) {
    String x = node.getInput(0);
    String w = node.getInput(1);
    String b = GradContext.input(node, 2);
    ValueMeta mx = ctx.meta(x);
    ValueMeta mw = ctx.meta(w);
    if (mx.rank() < 3 || mx.rank() > 5 || !mx.batched() || mw.batched() || mw.rank() != mx.rank()) {
      throw GradContext.unsupported(node, "only 1-D, 2-D or 3-D convolution of a batched X [N, C, D1..Ds] by an "
          + "unbatched kernel is differentiable");
    }
    long[] ws = mw.shape();
    int spatial = ws.length - 2;
    Windows win = Windows.of(node, Arrays.copyOfRange(ws, 2, ws.length), mx.shape(),
        ctx.meta(node.getOutput(0)).shape());
    long group = GradContext.attrInt(node, "group", 1);
    Emitter e = ctx.emit();
    String[] grads = new String[3];
    if (ctx.needsGrad(x)) {
      grads[0] = win.adjoint(e, g, w, group);
    }
    if (ctx.needsGrad(b)) {
      long[] axes = new long[spatial];
      for (int i = 0; i < spatial; i++) {
        axes[i] = 2 + i;
      }
      grads[2] = ctx.reshapeToSample(e.reduceSum(g, axes, false), ctx.meta(b));
    }
    if (ctx.needsGrad(w)) {
      grads[1] = weightGrad(e, x, g, mx.shape()[1], ws, group, win);
    }
    return grads;
  }

  /**
   * The im2col patches of a Conv node's X: [N, C·K, O1..Os] (channel-major, then the kernel's
   * offsets), by a depthwise Conv with one-hot kernels.
   */
  static String patches(OnnxMl.NodeProto node, GradContext ctx) {
    ValueMeta mx = ctx.meta(node.getInput(0));
    long[] ws = ctx.meta(node.getInput(1)).shape();
    Windows win = Windows.of(node, Arrays.copyOfRange(ws, 2, ws.length), mx.shape(),
        ctx.meta(node.getOutput(0)).shape());
    return patches(ctx.emit(), node.getInput(0), mx.shape()[1], ws, win);
  }

  private static String patches(Emitter e, String x, long c, long[] ws, Windows win) {
    long[] kernel = Arrays.copyOfRange(ws, 2, ws.length);
    long kk = win.kernelSize();
    float[] eye = new float[(int) (c * kk * kk)];
    for (int ch = 0; ch < c; ch++) {
      for (int k = 0; k < kk; k++) {
        eye[(int) ((ch * kk + k) * kk + k)] = 1f;
      }
    }
    String unfoldKernel = e.floats(eye, dims(c * kk, 1, kernel));
    return e.op("Conv", new String[] {x, unfoldKernel}, "strides", win.strides(),
        "dilations", win.dilations(), "pads", win.pads(), "group", c, "kernel_shape", kernel);
  }

  private static String weightGrad(Emitter e, String x, String g, long c, long[] ws, long group, Windows win) {
    long kk = win.kernelSize();
    long m = ws[0];
    String patches = patches(e, x, c, ws, win);
    long l = 1;
    for (long o : win.out()) {
      l *= o;
    }
    String p = e.reshape(patches, -1, group, c / group * kk, l);
    String gg = e.reshape(g, -1, group, m / group, l);
    String prod = e.matmul(gg, e.transpose(p, 0, 1, 3, 2));
    return e.reshape(prod, GradContext.prepend(-1, ws));
  }

  /** The pooling geometry of a node whose X must be batched [N, C, ...]. */
  private static Windows windows(OnnxMl.NodeProto node, GradContext ctx) {
    ValueMeta mx = ctx.meta(node.getInput(0));
    if (!mx.batched()) {
      throw GradContext.unsupported(node, "X must be batched [N, C, ...]");
    }
    long[] kernel = GradContext.attrInts(node, "kernel_shape");
    return Windows.of(node, kernel, mx.shape(), ctx.meta(node.getOutput(0)).shape());
  }

  static float[] filled(int n) {
    float[] v = new float[n];
    Arrays.fill(v, 1f);
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
