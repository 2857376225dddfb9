package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;
import java.util.Arrays;

/**
 * Backward rules of MatMul and Gemm. Both reduce to one routine on (A, B) with numpy matmul
 * semantics. A batched operand of rank 2 ([N, K], the batch being matmul's row axis) is lifted
 * to [N, 1, K] first, so that the weight gradient A^T G becomes a batched outer product
 * [N, K, 1] x [N, 1, P] = [N, K, P] (one slice per sample) instead of a sum over the batch.
 */
final class MatMulRules {
  private MatMulRules() {}

  /** A tensor taking part in the product: its value name, actual shape (-1 = batch), batched. */
  record Operand(String name, long[] shape, boolean batched) {
    static Operand of(ValueMeta m) {
      return new Operand(m.name(), m.shape(), m.batched());
    }

    int rank() {
      return shape.length;
    }

    long[] sample() {
      return batched ? Arrays.copyOfRange(shape, 1, shape.length) : shape;
    }
  }

  static String[] matMul(OnnxMl.NodeProto node, String g, GradContext ctx) {
    Operand a = Operand.of(ctx.meta(node.getInput(0)));
    Operand b = Operand.of(ctx.meta(node.getInput(1)));
    return grads(node, ctx, a, b, g, ctx.needsGrad(a.name()), ctx.needsGrad(b.name()));
  }

  /** Y = alpha A' B' + beta C, A' = transA ? A^T : A, B' = transB ? B^T : B. */
  static String[] gemm(OnnxMl.NodeProto node, String g, GradContext ctx) {
    Emitter e = ctx.emit();
    float alpha = GradContext.attrFloat(node, "alpha", 1f);
    float beta = GradContext.attrFloat(node, "beta", 1f);
    boolean transA = GradContext.attrInt(node, "transA", 0) != 0;
    boolean transB = GradContext.attrInt(node, "transB", 0) != 0;
    ValueMeta ma = ctx.meta(node.getInput(0));
    ValueMeta mb = ctx.meta(node.getInput(1));
    if ((ma.batched() && transA) || mb.batched()) {
      throw GradContext.unsupported(node, "the batch must be the row axis of A (transA = 0, B unbatched)");
    }
    boolean needA = ctx.needsGrad(ma.name());
    boolean needB = ctx.needsGrad(mb.name());
    String[] grads = new String[3];
    if ((needA || needB) && ma.batched() && ma.rank() == 2 && mb.rank() == 2) {
      // the common dense layer: per-sample weight gradient as a broadcast outer product,
      // written directly in B's layout (no transpose of the [N, out, in] result)
      String ga = e.scale(g, alpha);
      if (needA) {
        grads[0] = e.matmul(ga, transB ? mb.name() : e.transpose(mb.name(), 1, 0));
      }
      if (needB) {
        grads[1] = transB ? outer(e, ga, ma.name()) : outer(e, ma.name(), ga);
      }
    } else if (needA || needB) {
      Operand a = transA ? transposed(ma, e) : Operand.of(ma);
      Operand b = transB ? transposed(mb, e) : Operand.of(mb);
      String[] ab = grads(node, ctx, a, b, e.scale(g, alpha), needA, needB);
      if (needA) {
        grads[0] = transA ? e.transpose(ab[0], 0, 2, 1) : ab[0];
      }
      if (needB) {
        grads[1] = transB ? e.transpose(ab[1], 0, 2, 1) : ab[1];
      }
    }
    String c = GradContext.input(node, 2);
    if (ctx.needsGrad(c)) {
      grads[2] = ctx.unbroadcast(e.scale(g, beta), ctx.meta(node.getOutput(0)).sampleShape(), ctx.meta(c));
    }
    return grads;
  }

  private static Operand transposed(ValueMeta m, Emitter e) {
    long[] s = m.shape();
    return new Operand(e.transpose(m.name(), 1, 0), new long[] {s[1], s[0]}, false);
  }

  /**
   * Gradients of A and B (each [N] + that operand's sample shape, or null when not needed) of
   * Y = A @ B given g ([N] + Y's sample shape).
   */
  static String[] grads(OnnxMl.NodeProto node, GradContext ctx, Operand a, Operand b, String g,
      boolean needA, boolean needB) {
    Emitter e = ctx.emit();
    if ((a.batched() && a.rank() < 2) || (b.batched() && b.rank() < 3)
        || (a.batched() && b.batched() && a.rank() != b.rank())) {
      throw GradContext.unsupported(node, "the batch axis would be contracted or misaligned");
    }
    if (a.batched() && a.rank() == 2 && !b.batched() && b.rank() == 2) {
      return new String[] {needA ? e.matmul(g, e.transpose(b.name(), 1, 0)) : null,
          needB ? outer(e, a.name(), g) : null};
    }
    boolean yBatched = a.batched() || b.batched();
    Operand a2 = a;
    Operand b2 = b;
    if (a.batched() && a.rank() == 2) {
      a2 = new Operand(e.unsqueeze(a.name(), 1), new long[] {-1, 1, a.shape()[1]}, true);
      g = e.unsqueeze(g, 1);
    }
    if (a2.rank() == 1) {
      a2 = new Operand(e.unsqueeze(a2.name(), 0), new long[] {1, a2.shape()[0]}, false);
      g = e.unsqueeze(g, b2.rank() == 1 ? 1 : -2);
    }
    if (b2.rank() == 1) {
      b2 = new Operand(e.unsqueeze(b2.name(), 1), new long[] {b2.shape()[0], 1}, false);
      g = e.unsqueeze(g, -1);
    }
    long[] yShape = productShape(a2.shape(), b2.shape());
    long[] gShape = yBatched ? yShape : GradContext.prepend(-1, yShape);
    long[] gSampleBatchDims = Arrays.copyOfRange(gShape, 1, gShape.length - 2);
    String ga = null;
    String gb = null;
    if (needA) {
      String full = e.matmul(g, e.swapLast2(b2.name(), b2.rank()));
      long[] fullSample = concat(gSampleBatchDims, a2.shape()[a2.rank() - 2], a2.shape()[a2.rank() - 1]);
      ga = ctx.unbroadcast(full, fullSample, a2.sample());
      if (a2 != a) {
        ga = e.reshape(ga, GradContext.prepend(-1, a.sample()));
      }
    }
    if (needB) {
      String full = e.matmul(e.swapLast2(a2.name(), a2.rank()), g);
      long[] fullSample = concat(gSampleBatchDims, b2.shape()[b2.rank() - 2], b2.shape()[b2.rank() - 1]);
      gb = ctx.unbroadcast(full, fullSample, b2.sample());
      if (b2 != b) {
        gb = e.reshape(gb, GradContext.prepend(-1, b.sample()));
      }
    }
    return new String[] {ga, gb};
  }

  /**
   * Per-sample outer products [N, I, J] of u [N, I] and v [N, J], as a broadcast Mul of
   * [N, I, 1] by [N, 1, J] (measured faster in ORT than a batched MatMul with inner size 1).
   */
  static String outer(Emitter e, String u, String v) {
    return e.mul(e.unsqueeze(u, 2), e.unsqueeze(v, 1));
  }

  /** numpy matmul result shape of rank-&ge;2 operands (-1 = batch broadcasts like any dim &gt; 1). */
  static long[] productShape(long[] a, long[] b) {
    int ba = a.length - 2;
    int bb = b.length - 2;
    int r = Math.max(ba, bb);
    long[] y = new long[r + 2];
    for (int i = 0; i < r; i++) {
      long da = i - (r - ba) >= 0 ? a[i - (r - ba)] : 1;
      long db = i - (r - bb) >= 0 ? b[i - (r - bb)] : 1;
      y[i] = da == 1 ? db : da;
    }
    y[r] = a[a.length - 2];
    y[r + 1] = b[b.length - 1];
    return y;
  }

  private static long[] concat(long[] head, long x, long y) {
    long[] r = Arrays.copyOf(head, head.length + 2);
    r[head.length] = x;
    r[head.length + 1] = y;
    return r;
  }
}
