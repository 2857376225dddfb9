package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;
import java.util.Arrays;

/**
 * How element-wise ops turn a local derivative into a rule. A unary op's g_x = g_y * f'(x): the
 * local derivative has x's actual shape, which broadcasts against [N] + x's sample shape for
 * batched and unbatched x alike. A broadcasting binary op (Add, Sub, Mul, Div) forms each
 * input's contribution at the output's shape, then reduces it over the axes where that input
 * was broadcast ({@link GradContext#unbroadcast}), never over the batch axis: an unbatched
 * operand (a bias, a scale) gets one gradient slice per sample. The derivatives themselves are
 * entries of {@link GradRules}.
 */
final class ElementwiseRules {
  private ElementwiseRules() {}

  /** g_x of a unary op from the output gradient g, the node, its input x and its output y. */
  @FunctionalInterface
  interface Unary {
    String gradIn(OnnxMl.NodeProto node, String g, String x, String y, Emitter e);
  }

  /** The contribution to input {@code i} of y = f(a, b) at the output's (per-sample) shape. */
  @FunctionalInterface
  interface Binary {
    String contribution(int i, String g, String a, String b, String y, Emitter e);
  }

  static GradRule unary(Unary d) {
    return (node, g, ctx) -> new String[] {d.gradIn(node, g, node.getInput(0), node.getOutput(0), ctx.emit())};
  }

  static GradRule broadcasting(Binary local) {
    return (node, g, ctx) -> {
      String y = node.getOutput(0);
      ValueMeta my = ctx.meta(y);
      String[] grads = new String[2];
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
        String full = local.contribution(i, g, node.getInput(0), node.getInput(1), y, ctx.emit());
        grads[i] = ctx.unbroadcast(full, my.sampleShape(), mx);
      }
      return grads;
    };
  }

  /**
   * Pow(x, e) with an exponent that does not depend on an erasable parameter: e x^(e-1). The
   * exponent may be float or integer typed and broadcasts against x; when it has more elements
   * than x the rule refuses (the gradient would need an unbroadcast).
   */
  static String[] pow(OnnxMl.NodeProto node, String g, GradContext ctx) {
    String x = node.getInput(0);
    String exp = node.getInput(1);
    if (ctx.needsGrad(exp)) {
      throw GradContext.unsupported(node, "the exponent depends on an erasable parameter");
    }
    ValueMeta mx = ctx.meta(x);
    ValueMeta my = ctx.meta(node.getOutput(0));
    if (mx.rank() != my.rank() || !Arrays.equals(mx.sampleShape(), my.sampleShape())) {
      throw GradContext.unsupported(node, "the exponent broadcasts the base to a larger shape");
    }
    Emitter e = ctx.emit();
    String ef = e.op("Cast", new String[] {exp}, "to", (long) OnnxMl.TensorProto.DataType.FLOAT_VALUE);
    String xPow = e.op("Pow", new String[] {x, e.sub(ef, e.scalar(1))});
    return new String[] {e.mul(g, e.mul(ef, xPow))};
  }
}
