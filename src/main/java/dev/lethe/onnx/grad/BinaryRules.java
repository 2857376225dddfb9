package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;

/**
 * Backward rules of broadcasting element-wise Add, Sub, Mul, Div. Each input's contribution is
 * formed at the output's shape, then reduced over the axes where that input was broadcast
 * ({@link GradContext#unbroadcast}), never over the batch axis: an unbatched operand (a bias, a
 * scale) gets one gradient slice per sample.
 */
final class BinaryRules {
  private BinaryRules() {}

  abstract static class Binary implements GradRule {
    @Override
    public boolean differentiable(OnnxMl.NodeProto node, int index) {
      return index < 2;
    }

    @Override
    public void backward(OnnxMl.NodeProto node, GradContext ctx) {
      String y = node.getOutput(0);
      String g = ctx.grad(y);
      if (g == null) {
        return;
      }
      ValueMeta my = ctx.meta(y);
      for (int i = 0; i < 2; i++) {
        String x = node.getInput(i);
        if (!ctx.needsGrad(x)) {
          continue;
        }
        ValueMeta mx = ctx.meta(x);
        if (mx.batched() && mx.rank() != my.rank()) {
          throw GradContext.unsupported(node, "a batched operand of lower rank than the result "
              + "(its batch axis would not be axis 0)");
        }
        String full = local(i, g, node.getInput(0), node.getInput(1), y, ctx.emit());
        ctx.accumulate(x, ctx.unbroadcast(full, my.sampleShape(), mx));
      }
    }

    /** The contribution to input {@code i} at the output's (per-sample) shape. */
    abstract String local(int i, String g, String a, String b, String y, Emitter e);
  }

  static final class Add extends Binary {
    @Override
    String local(int i, String g, String a, String b, String y, Emitter e) {
      return g;
    }
  }

  static final class Sub extends Binary {
    @Override
    String local(int i, String g, String a, String b, String y, Emitter e) {
      return i == 0 ? g : e.neg(g);
    }
  }

  static final class Mul extends Binary {
    @Override
    String local(int i, String g, String a, String b, String y, Emitter e) {
      return e.mul(g, i == 0 ? b : a);
    }
  }

  /** y = a / b: g_a = g / b, g_b = -g y / b. */
  static final class Div extends Binary {
    @Override
    String local(int i, String g, String a, String b, String y, Emitter e) {
      return i == 0 ? e.div(g, b) : e.neg(e.div(e.mul(g, y), b));
    }
  }
}
