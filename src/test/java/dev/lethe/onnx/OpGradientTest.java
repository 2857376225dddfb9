package dev.lethe.onnx;

import static dev.lethe.onnx.GradCheck.randn;
import static dev.lethe.onnx.GradCheck.uniform;

import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Each differentiable op checked by finite differences (tolerances in {@link GradCheck}) with
 * seeded random shapes and attributes. The model is x [N, ...] ⊙ P (an erasable per-feature
 * scale, so the op's input gradient is checked too) → op → Flatten → logits, MSE loss unless
 * stated; the op's own parameters are erasable as well.
 */
class OpGradientTest {
  private static final int N = 3;
  private static final int COORDS = 16;

  /** x [N, sample] and h0 = x ⊙ P. */
  static OnnxBuilder base(Random rnd, long opset, long... sample) {
    long[] in = prepend(-1, sample);
    return new OnnxBuilder("op").opset(opset)
        .floatInput("x", in)
        .initializer("P", uniform(rnd, 0.5, 1.5, sample), sample)
        .node("Mul", "h0", "x", "P");
  }

  static void check(Random rnd, OnnxBuilder b, String last, long[] sample, LossFunction loss, String... params) {
    b.node("Flatten", new String[] {last}, new String[] {"z"}, "axis", 1L);
    GradCheck.Case c = new GradCheck.Case(b.build(), "z", loss, List.of(params));
    GradientGraph g = GradientGraph.build(c.model(), "z", loss, c.params(), 0);
    Samples batch = GradCheck.batch(rnd, N, loss, g.classes(), "x", sample);
    GradCheck.verify(c, batch, COORDS, rnd);
  }

  static void check(Random rnd, OnnxBuilder b, String last, long[] sample, String... params) {
    check(rnd, b, last, sample, LossFunction.MEAN_SQUARED_ERROR, params);
  }

  @Test
  void gemm() {
    Random rnd = new Random(11);
    for (int t = 0; t < 6; t++) {
      boolean transB = rnd.nextBoolean();
      float alpha = t % 2 == 0 ? 1f : 0.7f;
      float beta = t % 3 == 0 ? 1f : 1.3f;
      long[] wDims = transB ? new long[] {3, 4} : new long[] {4, 3};
      OnnxBuilder b = base(rnd, 13, 4).initializer("W", randn(rnd, 0.5, wDims), wDims);
      List<String> params = new ArrayList<>(List.of("P", "W"));
      String[] ins = {"h0", "W"};
      if (t % 3 != 2) {
        long[] cDims = t % 3 == 0 ? new long[] {3} : new long[] {1, 3};
        b.initializer("C", randn(rnd, 0.5, cDims), cDims);
        params.add("C");
        ins = new String[] {"h0", "W", "C"};
      }
      b.node("Gemm", ins, new String[] {"y"}, "transB", transB ? 1L : 0L, "alpha", alpha, "beta", beta);
      check(rnd, b, "y", new long[] {4}, LossFunction.SOFTMAX_CROSS_ENTROPY, params.toArray(String[]::new));
    }
  }

  @Test
  void matMulRanksAndBroadcasts() {
    Random rnd = new Random(12);
    // [N,4] @ [4,3]
    check(rnd, base(rnd, 13, 4).initializer("W", randn(rnd, 0.5, 4, 3), 4, 3).node("MatMul", "y", "h0", "W"),
        "y", new long[] {4}, "P", "W");
    // [N,2,4] @ [4,3]
    check(rnd, base(rnd, 13, 2, 4).initializer("W", randn(rnd, 0.5, 4, 3), 4, 3).node("MatMul", "y", "h0", "W"),
        "y", new long[] {2, 4}, "P", "W");
    // [N,2,2,4] @ [2,4,3] (weight with its own batch dims)
    check(rnd, base(rnd, 13, 2, 2, 4).initializer("W", randn(rnd, 0.5, 2, 4, 3), 2, 4, 3)
        .node("MatMul", "y", "h0", "W"), "y", new long[] {2, 2, 4}, "P", "W");
    // [3,4] @ [N,4,2]: unbatched left operand
    check(rnd, base(rnd, 13, 4, 2).initializer("W", randn(rnd, 0.5, 3, 4), 3, 4).node("MatMul", "y", "W", "h0"),
        "y", new long[] {4, 2}, "P", "W");
    // [N,4] @ [4] -> [N], then Unsqueeze
    check(rnd, base(rnd, 13, 4).initializer("w", randn(rnd, 0.5, 4), 4).int64Initializer("ax", new long[] {1}, 1)
        .node("MatMul", "v", "h0", "w").node("Unsqueeze", "y", "v", "ax"), "y", new long[] {4}, "P", "w");
    // parameter-only chain: (W1 @ W2) used by a batched product
    check(rnd, base(rnd, 13, 4).initializer("W1", randn(rnd, 0.5, 4, 5), 4, 5)
        .initializer("W2", randn(rnd, 0.5, 5, 3), 5, 3).node("MatMul", "Wc", "W1", "W2")
        .node("MatMul", "y", "h0", "Wc"), "y", new long[] {4}, "P", "W1", "W2");
    // batched @ batched: [N,2,4] @ [N,4,2]
    check(rnd, base(rnd, 13, 8).int64Initializer("s1", new long[] {0, 2, 4}, 3)
        .int64Initializer("s2", new long[] {0, 4, 2}, 3).initializer("Q", uniform(rnd, 0.5, 1.5, 8), 8)
        .node("Reshape", "a", "h0", "s1").node("Mul", "hq", "h0", "Q").node("Reshape", "bq", "hq", "s2")
        .node("MatMul", "y", "a", "bq"), "y", new long[] {8}, "P", "Q");
  }

  @Test
  void broadcastingBinaryOps() {
    Random rnd = new Random(13);
    long[][] qShapes = {{3}, {2, 1}, {1, 2, 3}, {2, 3}, {}};
    for (String op : new String[] {"Add", "Sub", "Mul", "Div"}) {
      for (long[] q : qShapes) {
        for (boolean paramFirst : new boolean[] {false, true}) {
          boolean div = op.equals("Div");
          OnnxBuilder b = base(rnd, 13, 2, 3).initializer("Q", div ? uniform(rnd, 1, 2, q) : randn(rnd, 1, q), q);
          String lhs = "h0";
          if (div && paramFirst) {
            b.node("Exp", "e", "h0");
            lhs = "e";
          }
          b.node(op, "y", paramFirst ? "Q" : lhs, paramFirst ? lhs : "Q");
          check(rnd, b, "y", new long[] {2, 3}, "P", "Q");
        }
      }
    }
    // both operands batched, and a parameter-only product feeding a broadcast
    check(rnd, base(rnd, 13, 2, 3).node("Exp", "e", "h0").node("Mul", "m", "h0", "e").node("Div", "y", "m", "e2")
        .node("Sigmoid", "e2", "h0"), "y", new long[] {2, 3}, "P");
    check(rnd, base(rnd, 13, 2, 3).initializer("Q", randn(rnd, 1, 3), 3).initializer("R", randn(rnd, 1, 2, 1), 2, 1)
        .node("Mul", "qr", "Q", "R").node("Sub", "y", "h0", "qr"), "y", new long[] {2, 3}, "P", "Q", "R");
  }

  @Test
  void unaryOps() {
    Random rnd = new Random(14);
    long[] s = {2, 3};
    check(rnd, base(rnd, 13, s).node("Neg", "y", "h0"), "y", s, "P");
    check(rnd, base(rnd, 13, s).node("Relu", "y", "h0"), "y", s, "P");
    check(rnd, base(rnd, 13, s).node("LeakyRelu", new String[] {"h0"}, new String[] {"y"}, "alpha", 0.2f), "y", s, "P");
    check(rnd, base(rnd, 13, s).node("LeakyRelu", "y", "h0"), "y", s, "P");
    check(rnd, base(rnd, 13, s).node("Sigmoid", "y", "h0"), "y", s, "P");
    check(rnd, base(rnd, 13, s).node("Tanh", "y", "h0"), "y", s, "P");
    check(rnd, base(rnd, 13, s).node("Exp", "y", "h0"), "y", s, "P");
    check(rnd, base(rnd, 13, s).node("Exp", "e", "h0").node("Log", "y", "e2").node("Add", "e2", "e", "P"),
        "y", s, "P");
    check(rnd, base(rnd, 13, s).node("Exp", "e", "h0").node("Sqrt", "y", "e"), "y", s, "P");
    check(rnd, base(rnd, 13, s).initializer("two", new float[] {2f}).node("Pow", "y", "h0", "two"), "y", s, "P");
    check(rnd, base(rnd, 13, s).int64Initializer("three", new long[] {3}).node("Pow", "y", "h0", "three"),
        "y", s, "P");
    check(rnd, base(rnd, 13, s).node("Constant", new String[] {}, new String[] {"half"}, "value",
            OnnxBuilder.floatTensor("half", new float[] {0.5f}))
        .node("Exp", "e", "h0").node("Pow", "y", "e", "half"), "y", s, "P");
    check(rnd, base(rnd, 13, s).node("Identity", "y", "h0"), "y", s, "P");
    check(rnd, base(rnd, 13, s).node("Dropout", new String[] {"h0"}, new String[] {"y", "mask"}), "y", s, "P");
  }

  @Test
  void softmaxAndLogSoftmaxAxes() {
    Random rnd = new Random(15);
    long[] s = {2, 3};
    for (String op : new String[] {"Softmax", "LogSoftmax"}) {
      for (long axis : new long[] {1, 2, -1}) {
        check(rnd, base(rnd, 13, s).node(op, new String[] {"h0"}, new String[] {"y"}, "axis", axis), "y", s, "P");
      }
    }
  }

  @Test
  void shapeOps() {
    Random rnd = new Random(16);
    long[] s = {2, 3, 2};
    check(rnd, base(rnd, 13, s).node("Flatten", new String[] {"h0"}, new String[] {"f"}, "axis", 1L)
        .initializer("Q", randn(rnd, 1, 12), 12).node("Mul", "y", "f", "Q"), "y", s, "P", "Q");
    check(rnd, base(rnd, 13, s).int64Initializer("sh", new long[] {0, 3, -1}, 3).node("Reshape", "y", "h0", "sh"),
        "y", s, "P");
    check(rnd, base(rnd, 13, s).node("Transpose", new String[] {"h0"}, new String[] {"t"}, "perm", new long[] {0, 3, 1, 2})
        .initializer("Q", randn(rnd, 1, 2, 2, 3), 2, 2, 3).node("Mul", "y", "t", "Q"), "y", s, "P", "Q");
    check(rnd, base(rnd, 13, 1, 3).int64Initializer("ax", new long[] {1}, 1).node("Squeeze", "y", "h0", "ax"),
        "y", new long[] {1, 3}, "P");
    check(rnd, base(rnd, 13, 3).int64Initializer("ax", new long[] {-1}, 1).node("Unsqueeze", "u", "h0", "ax")
        .initializer("Q", randn(rnd, 1, 3, 2), 3, 2).node("Mul", "y", "u", "Q"), "y", new long[] {3}, "P", "Q");
    for (long axis : new long[] {1, 2, -1}) {
      check(rnd, base(rnd, 13, s).node("Exp", "e", "h0").initializer("Q", randn(rnd, 1, 2, 3, 2), 2, 3, 2)
          .node("Concat", new String[] {"h0", "e"}, new String[] {"c"}, "axis", axis).node("Tanh", "y", "c"),
          "y", s, "P");
    }
    // a transposed parameter (parameter-only Transpose) used in a product
    check(rnd, base(rnd, 13, 4).initializer("W", randn(rnd, 0.5, 3, 4), 3, 4)
        .node("Transpose", new String[] {"W"}, new String[] {"Wt"}, "perm", new long[] {1, 0})
        .node("MatMul", "y", "h0", "Wt"), "y", new long[] {4}, "P", "W");
  }

  @Test
  void reductions() {
    Random rnd = new Random(17);
    long[] s = {2, 3, 2};
    for (long keep : new long[] {0, 1}) {
      check(rnd, base(rnd, 13, s).int64Initializer("ax", new long[] {2}, 1)
          .node("ReduceSum", new String[] {"h0", "ax"}, new String[] {"y"}, "keepdims", keep), "y", s, "P");
      check(rnd, base(rnd, 13, s).node("ReduceMean", new String[] {"h0"}, new String[] {"y"}, "axes",
          new long[] {1, -1}, "keepdims", keep), "y", s, "P");
      check(rnd, base(rnd, 18, s).int64Initializer("ax", new long[] {-2}, 1)
          .node("ReduceMean", new String[] {"h0", "ax"}, new String[] {"y"}, "keepdims", keep), "y", s, "P");
    }
    // reduce a parameter-only value
    check(rnd, base(rnd, 13, 3).initializer("Q", randn(rnd, 1, 4, 3), 4, 3).int64Initializer("ax", new long[] {0}, 1)
        .node("ReduceSum", new String[] {"Q", "ax"}, new String[] {"q"}, "keepdims", 0L)
        .node("Mul", "y", "h0", "q"), "y", new long[] {3}, "P", "Q");
  }

  @Test
  void layerNormalization() {
    Random rnd = new Random(18);
    long[] s = {3, 4};
    for (long axis : new long[] {-1, 1}) {
      long[] ps = axis == -1 ? new long[] {4} : new long[] {3, 4};
      check(rnd, base(rnd, 17, s).initializer("S", uniform(rnd, 0.5, 1.5, ps), ps).initializer("B", randn(rnd, 0.3, ps), ps)
          .node("LayerNormalization", new String[] {"h0", "S", "B"}, new String[] {"y"}, "axis", axis,
              "epsilon", 1e-3f), "y", s, "P", "S", "B");
    }
  }

  @Test
  void batchNormalization() {
    Random rnd = new Random(19);
    for (long[] s : new long[][] {{2, 3, 3}, {4}}) {
      long c = s[0];
      check(rnd, base(rnd, 15, s).initializer("S", uniform(rnd, 0.5, 1.5, c), c).initializer("B", randn(rnd, 0.3, c), c)
          .initializer("M", randn(rnd, 0.3, c), c).initializer("V", uniform(rnd, 0.5, 1.5, c), c)
          .node("BatchNormalization", new String[] {"h0", "S", "B", "M", "V"}, new String[] {"y"}, "epsilon", 1e-3f),
          "y", s, "P", "S", "B", "M", "V");
    }
  }

  @Test
  void conv2d() {
    Random rnd = new Random(20);
    for (int t = 0; t < 8; t++) {
      long group = t % 4 == 3 ? 2 : 1;
      long c = group * (1 + rnd.nextInt(2));
      long m = group * (1 + rnd.nextInt(2));
      long k = 1 + rnd.nextInt(3);
      long stride = 1 + rnd.nextInt(2);
      long dil = k > 1 && t % 3 == 0 ? 2 : 1;
      long pad = rnd.nextInt(2);
      long h = 5 + rnd.nextInt(3);
      long w = 5 + rnd.nextInt(2);
      long[] s = {c, h, w};
      long[] wd = {m, c / group, k, k};
      OnnxBuilder b = base(rnd, 13, s).initializer("W", randn(rnd, 0.5, wd), wd).initializer("Bc", randn(rnd, 0.3, m), m);
      if (t == 5) {
        b.node("Conv", new String[] {"h0", "W", "Bc"}, new String[] {"y"}, "auto_pad", "SAME_UPPER",
            "strides", new long[] {stride, stride}, "group", group);
      } else {
        b.node("Conv", new String[] {"h0", "W", "Bc"}, new String[] {"y"}, "strides", new long[] {stride, 1},
            "dilations", new long[] {dil, dil}, "pads", new long[] {pad, 0, pad, 1}, "group", group);
      }
      try {
        check(rnd, b, "y", s, "P", "W", "Bc");
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError("conv case " + t + " c=" + c + " m=" + m + " k=" + k + " stride=" + stride
            + " dil=" + dil + " pad=" + pad + " group=" + group + " hw=" + h + "x" + w + ": " + e.getMessage(), e);
      }
    }
  }

  /** Conv1d exports: X [N, C, L], every attribute (strides, pads, dilations, group, auto_pad). */
  @Test
  void conv1d() {
    Random rnd = new Random(21);
    String[] autoPads = {"SAME_UPPER", "SAME_LOWER", "VALID"};
    for (int t = 0; t < 9; t++) {
      long group = t % 3 == 2 ? 2 : 1;
      long c = group * (1 + rnd.nextInt(2));
      long m = group * (1 + rnd.nextInt(2));
      long k = 1 + rnd.nextInt(4);
      long stride = 1 + rnd.nextInt(2);
      long dil = k > 1 && t % 2 == 0 ? 2 : 1;
      long l = 7 + rnd.nextInt(4);
      long[] s = {c, l};
      long[] wd = {m, c / group, k};
      OnnxBuilder b = base(rnd, t % 2 == 0 ? 13 : 17, s)
          .initializer("W", randn(rnd, 0.5, wd), wd).initializer("Bc", randn(rnd, 0.3, m), m);
      String desc;
      if (t >= 6) {
        String ap = autoPads[t - 6];
        desc = ap;
        b.node("Conv", new String[] {"h0", "W", "Bc"}, new String[] {"y"}, "auto_pad", ap,
            "strides", new long[] {stride}, "dilations", new long[] {dil}, "group", group);
      } else {
        long p0 = rnd.nextInt(3);
        long p1 = rnd.nextInt(2);
        desc = "pads " + p0 + "," + p1;
        b.node("Conv", new String[] {"h0", "W", "Bc"}, new String[] {"y"}, "strides", new long[] {stride},
            "dilations", new long[] {dil}, "pads", new long[] {p0, p1}, "group", group, "kernel_shape", new long[] {k});
      }
      try {
        check(rnd, b, "y", s, "P", "W", "Bc");
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError("conv1d case " + t + " c=" + c + " m=" + m + " k=" + k + " stride=" + stride
            + " dil=" + dil + " " + desc + " group=" + group + " l=" + l + ": " + e.getMessage(), e);
      }
    }
  }

  /** Conv3d: X [N, C, D, H, W], strides, pads, dilations and group per axis. */
  @Test
  void conv3d() {
    Random rnd = new Random(22);
    for (int t = 0; t < 3; t++) {
      long group = t == 2 ? 2 : 1;
      long c = group;
      long m = group * 2;
      long[] s = {c, 4, 5, 4};
      long[] wd = {m, c / group, 2, t == 1 ? 3 : 1, 2};
      OnnxBuilder b = base(rnd, 13, s).initializer("W", randn(rnd, 0.5, wd), wd)
          .initializer("Bc", randn(rnd, 0.3, m), m);
      if (t == 1) {
        b.node("Conv", new String[] {"h0", "W", "Bc"}, new String[] {"y"}, "auto_pad", "SAME_LOWER",
            "strides", new long[] {1, 2, 1});
      } else {
        b.node("Conv", new String[] {"h0", "W", "Bc"}, new String[] {"y"}, "strides", new long[] {2, 1, 1},
            "dilations", new long[] {1, 1, t == 0 ? 2 : 1}, "pads", new long[] {1, 0, 0, 0, 1, 1}, "group", group);
      }
      try {
        check(rnd, b, "y", s, "P", "W", "Bc");
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError("conv3d case " + t + ": " + e.getMessage(), e);
      }
    }
  }

  @Test
  void pooling() {
    Random rnd = new Random(24); // a seed whose samples sit on no near-tie (finite differences would straddle it)
    long[] s = {2, 5, 5};
    for (long opset : new long[] {13, 17}) {
      for (long[] ksp : new long[][] {{2, 2, 0}, {3, 2, 1}, {2, 1, 0}, {3, 3, 1}}) {
        long[] k = {ksp[0], ksp[0]};
        long[] st = {ksp[1], ksp[1]};
        long[] pads = {ksp[2], ksp[2], ksp[2], ksp[2]};
        // overlapping windows before opset 16: the scatter-free sum over kernel offsets
        try {
          check(rnd, base(rnd, opset, s).node("MaxPool", new String[] {"h0"}, new String[] {"y"}, "kernel_shape", k,
              "strides", st, "pads", pads), "y", s, "P");
        } catch (AssertionError e) {
          throw new AssertionError("MaxPool opset " + opset + " " + Arrays.toString(ksp) + ": " + e.getMessage(), e);
        }
        for (long include : new long[] {0, 1}) {
          check(rnd, base(rnd, opset, s).node("AveragePool", new String[] {"h0"}, new String[] {"y"},
              "kernel_shape", k, "strides", st, "pads", pads, "count_include_pad", include), "y", s, "P");
        }
      }
    }
    check(rnd, base(rnd, 13, s).node("GlobalAveragePool", "y", "h0"), "y", s, "P");
    // resnet's stem pool (3x3, stride 2, pad 1) on an even input, and a dilated 1-D pool
    long[] even = {2, 6, 6};
    check(rnd, base(rnd, 14, even).node("MaxPool", new String[] {"h0"}, new String[] {"y"}, "kernel_shape",
        new long[] {3, 3}, "strides", new long[] {2, 2}, "pads", new long[] {1, 1, 1, 1}), "y", even, "P");
    long[] line = {2, 9};
    check(rnd, base(rnd, 13, line).node("MaxPool", new String[] {"h0"}, new String[] {"y"}, "kernel_shape",
        new long[] {3}, "strides", new long[] {1}, "dilations", new long[] {2}), "y", line, "P");
  }

  /** The activations of mobilenets and GELU models, on inputs spread over their kinks (×3). */
  @Test
  void activations() {
    Random rnd = new Random(25);
    long[] s = {3, 4};
    for (long opset : new long[] {13, 17}) {
      check(rnd, spread(rnd, opset, s).initializer("lo", new float[] {-1f}).initializer("hi", new float[] {2f})
          .node("Clip", "y", "h", "lo", "hi"), "y", s, "P");
      check(rnd, spread(rnd, opset, s).initializer("hi", new float[] {6f})
          .node("Clip", new String[] {"h", "", "hi"}, new String[] {"y"}), "y", s, "P");
      check(rnd, spread(rnd, opset, s).node("HardSigmoid", "y", "h"), "y", s, "P");
      check(rnd, spread(rnd, opset, s).node("HardSigmoid", new String[] {"h"}, new String[] {"y"}, "alpha",
          1f / 6, "beta", 0.5f), "y", s, "P");
      check(rnd, spread(rnd, opset, s).node("Erf", "y", "h"), "y", s, "P");
    }
    check(rnd, spread(rnd, 14, s).node("HardSwish", "y", "h"), "y", s, "P");
    check(rnd, spread(rnd, 20, s).node("Gelu", "y", "h"), "y", s, "P");
    check(rnd, spread(rnd, 20, s).node("Gelu", new String[] {"h"}, new String[] {"y"}, "approximate", "tanh"),
        "y", s, "P");
  }

  /** Einsum as attention writes it: scores, weighted values, a projection by a weight. */
  @Test
  void einsum() {
    Random rnd = new Random(26);
    long[] s = {2, 3, 4}; // [heads, seq, dim] per sample
    OnnxBuilder b = base(rnd, 13, s).initializer("K", randn(rnd, 0.5, 2, 3, 4), 2, 3, 4)
        .initializer("Wo", randn(rnd, 0.5, 4, 5), 4, 5)
        .node("Einsum", new String[] {"h0", "K"}, new String[] {"sc"}, "equation", "nhqd,hkd->nhqk")
        .node("Softmax", new String[] {"sc"}, new String[] {"p"}, "axis", -1L)
        .node("Einsum", new String[] {"p", "h0"}, new String[] {"v"}, "equation", "nhqk,nhkd->nhqd")
        .node("Einsum", new String[] {"v", "Wo"}, new String[] {"y"}, "equation", "nhqd,de->nqe");
    check(rnd, b, "y", s, "P", "K", "Wo");
    // implicit output, parameter-only operands
    check(rnd, base(rnd, 13, 4).initializer("A", randn(rnd, 0.5, 4, 3), 4, 3).initializer("B", randn(rnd, 0.5, 3, 2), 3, 2)
        .node("Einsum", new String[] {"A", "B"}, new String[] {"ab"}, "equation", "ij,jk")
        .node("MatMul", "y", "h0", "ab"), "y", new long[] {4}, "P", "A", "B");
  }

  /** base, then h = 3 h0. */
  static OnnxBuilder spread(Random rnd, long opset, long... sample) {
    return base(rnd, opset, sample).initializer("three", new float[] {3f}).node("Mul", "h", "h0", "three");
  }

  static long[] prepend(long first, long[] rest) {
    long[] r = new long[rest.length + 1];
    r[0] = first;
    System.arraycopy(rest, 0, r, 1, rest.length);
    return r;
  }

  @SuppressWarnings("unused")
  private static String str(long[] v) {
    return Arrays.toString(v);
  }
}
