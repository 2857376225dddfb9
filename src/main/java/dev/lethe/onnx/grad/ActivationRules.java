package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;

/**
 * Local derivatives of the piecewise and special-function activations PyTorch exports: Clip
 * (ReLU6, hardtanh; bounds as inputs), HardSigmoid, HardSwish, Erf (exact GELU before opset 20)
 * and Gelu (opset 20, exact or tanh). At a kink the derivative is PyTorch's: 0 at a Clip or
 * HardSigmoid bound, and HardSwish's inner piece on [-3, 3]. Each returns g_x = g · f'(x) and is
 * used through {@link ElementwiseRules#unary}.
 */
final class ActivationRules {
  private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

  private ActivationRules() {}

  /** Clip(x, min, max): g where min &lt; x &lt; max (an absent bound does not cut). */
  static String clip(OnnxMl.NodeProto n, String g, String x, String y, Emitter e) {
    String min = GradContext.input(n, 1);
    String max = GradContext.input(n, 2);
    String mask = null;
    if (!min.isEmpty()) {
      mask = e.op("Greater", new String[] {x, min});
    }
    if (!max.isEmpty()) {
      String below = e.op("Less", new String[] {x, max});
      mask = mask == null ? below : e.op("And", new String[] {mask, below});
    }
    return mask == null ? g : e.op("Where", new String[] {mask, g, e.scalar(0)});
  }

  /** HardSigmoid(alpha = 0.2, beta = 0.5): g·alpha where 0 &lt; alpha·x + beta &lt; 1. */
  static String hardSigmoid(OnnxMl.NodeProto n, String g, String x, String y, Emitter e) {
    double alpha = GradContext.attrFloat(n, "alpha", 0.2f);
    double beta = GradContext.attrFloat(n, "beta", 0.5f);
    String t = e.add(e.scale(x, alpha), e.scalar(beta));
    String mask = e.op("And", new String[] {e.op("Greater", new String[] {t, e.scalar(0)}),
        e.op("Less", new String[] {t, e.scalar(1)})});
    return e.op("Where", new String[] {mask, e.scale(g, alpha), e.scalar(0)});
  }

  /** HardSwish: x·HardSigmoid(x; 1/6, 1/2); derivative 0 below -3, 1 above 3, x/3 + 1/2 between. */
  static String hardSwish(OnnxMl.NodeProto n, String g, String x, String y, Emitter e) {
    String inner = e.add(e.scale(x, 1.0 / 3), e.scalar(0.5));
    String upper = e.op("Where", new String[] {e.op("Greater", new String[] {x, e.scalar(3)}), e.scalar(1), inner});
    String d = e.op("Where", new String[] {e.op("Less", new String[] {x, e.scalar(-3)}), e.scalar(0), upper});
    return e.mul(g, d);
  }

  /** Erf: 2/√π · exp(−x²). */
  static String erf(OnnxMl.NodeProto n, String g, String x, String y, Emitter e) {
    String d = e.scale(e.op("Exp", new String[] {e.neg(e.mul(x, x))}), 2 / Math.sqrt(Math.PI));
    return e.mul(g, d);
  }

  /**
   * Gelu (opset 20). approximate = "none": Φ(x) + x·φ(x). "tanh": with u = √(2/π)(x + 0.044715x³),
   * ½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²).
   */
  static String gelu(OnnxMl.NodeProto n, String g, String x, String y, Emitter e) {
    String x2 = e.mul(x, x);
    String d;
    if (GradContext.attrString(n, "approximate", "none").equals("tanh")) {
      String u = e.scale(e.add(x, e.scale(e.mul(x2, x), 0.044715)), SQRT_2_OVER_PI);
      String t = e.op("Tanh", new String[] {u});
      String du = e.scale(e.add(e.scalar(1), e.scale(x2, 3 * 0.044715)), SQRT_2_OVER_PI);
      String sech2 = e.sub(e.scalar(1), e.mul(t, t));
      d = e.add(e.scale(e.add(e.scalar(1), t), 0.5), e.scale(e.mul(x, e.mul(sech2, du)), 0.5));
    } else {
      String cdf = e.scale(e.add(e.scalar(1), e.op("Erf", new String[] {e.scale(x, 1 / Math.sqrt(2))})), 0.5);
      String pdf = e.scale(e.op("Exp", new String[] {e.scale(x2, -0.5)}), 1 / Math.sqrt(2 * Math.PI));
      d = e.add(cdf, e.mul(x, pdf));
    }
    return e.mul(g, d);
  }
}
