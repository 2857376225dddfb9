package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;

/**
 * Backward rules of element-wise unary ops: g_x = g_y * f'(x). The local derivative has x's
 * actual shape, which broadcasts against [N] + x's sample shape for batched and unbatched x alike.
 */
final class UnaryRules {
  private UnaryRules() {}

  /** Computes the local derivative f'(x) (or the full product) from the node's input and output. */
  abstract static class Unary implements GradRule {
    @Override
    public void backward(OnnxMl.NodeProto node, GradContext ctx) {
      String g = ctx.grad(node.getOutput(0));
      String x = node.getInput(0);
      if (g != null && ctx.needsGrad(x)) {
        ctx.accumulate(x, gradIn(node, g, x, node.getOutput(0), ctx.emit()));
      }
    }

    abstract String gradIn(OnnxMl.NodeProto node, String g, String x, String y, Emitter e);
  }

  static final class Neg extends Unary {
    @Override
    String gradIn(OnnxMl.NodeProto node, String g, String x, String y, Emitter e) {
      return e.neg(g);
    }
  }

  /** Relu: derivative 1 where x &gt; 0, else 0 (0 at x = 0, as PyTorch). */
  static final class Relu extends Unary {
    @Override
    String gradIn(OnnxMl.NodeProto node, String g, String x, String y, Emitter e) {
      String pos = e.op("Greater", new String[] {x, e.scalar(0)});
      return e.op("Where", new String[] {pos, g, e.scalar(0)});
    }
  }

  /** LeakyRelu(alpha, default 0.01): derivative 1 where x &gt; 0, else alpha. */
  static final class LeakyRelu extends Unary {
    @Override
    String gradIn(OnnxMl.NodeProto node, String g, String x, String y, Emitter e) {
      float alpha = GradContext.attrFloat(node, "alpha", 0.01f);
      String pos = e.op("Greater", new String[] {x, e.scalar(0)});
      return e.op("Where", new String[] {pos, g, e.mul(g, e.scalar(alpha))});
    }
  }

  /** Sigmoid: y (1 - y). */
  static final class Sigmoid extends Unary {
    @Override
    String gradIn(OnnxMl.NodeProto node, String g, String x, String y, Emitter e) {
      return e.mul(g, e.mul(y, e.sub(e.scalar(1), y)));
    }
  }

  /** Tanh: 1 - y^2. */
  static final class Tanh extends Unary {
    @Override
    String gradIn(OnnxMl.NodeProto node, String g, String x, String y, Emitter e) {
      return e.mul(g, e.sub(e.scalar(1), e.mul(y, y)));
    }
  }

  /** Exp: y. */
  static final class Exp extends Unary {
    @Override
    String gradIn(OnnxMl.NodeProto node, String g, String x, String y, Emitter e) {
      return e.mul(g, y);
    }
  }

  /** Log: 1 / x. */
  static final class Log extends Unary {
    @Override
    String gradIn(OnnxMl.NodeProto node, String g, String x, String y, Emitter e) {
      return e.div(g, x);
    }
  }

  /** Sqrt: 0.5 / y. */
  static final class Sqrt extends Unary {
    @Override
    String gradIn(OnnxMl.NodeProto node, String g, String x, String y, Emitter e) {
      return e.div(e.mul(g, e.scalar(0.5)), y);
    }
  }

  /**
   * Pow(x, e) with an exponent that does not depend on an erasable parameter: e x^(e-1). The
   * exponent may be float or integer typed and broadcasts against x; when it has more elements
   * than x the builder refuses (the gradient would need an unbroadcast).
   */
  static final class Pow extends Unary {
    @Override
    String gradIn(OnnxMl.NodeProto node, String g, String x, String y, Emitter e) {
      String exp = node.getInput(1);
      String ef = e.op("Cast", new String[] {exp}, "to", (long) OnnxMl.TensorProto.DataType.FLOAT_VALUE);
      String xPow = e.op("Pow", new String[] {x, e.sub(ef, e.scalar(1))});
      return e.mul(g, e.mul(ef, xPow));
    }

    @Override
    public void backward(OnnxMl.NodeProto node, GradContext ctx) {
      if (ctx.needsGrad(node.getInput(1))) {
        throw GradContext.unsupported(node, "the exponent depends on an erasable parameter");
      }
      ValueMeta mx = ctx.meta(node.getInput(0));
      ValueMeta my = ctx.meta(node.getOutput(0));
      if (mx.rank() != my.rank() || !java.util.Arrays.equals(mx.sampleShape(), my.sampleShape())) {
        throw GradContext.unsupported(node, "the exponent broadcasts the base to a larger shape");
      }
      super.backward(node, ctx);
    }
  }
}
