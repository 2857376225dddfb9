package dev.lethe.bench;

import ai.onnx.proto.OnnxMl;
import dev.lethe.onnx.OnnxBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The larger models of {@code lethe bench gradients}, built in the shapes PyTorch exports:
 * a resnet18-size network (resnet18's layers and widths, BatchNorm folded into the convolutions
 * as torch's eval export does, 11.7 M parameters, 3×224×224 inputs) and a transformer encoder
 * classifier (token embedding, learned positions, 4 pre-norm layers of 4-head attention and a
 * GELU feed-forward, mean pooling, linear head). Stateless.
 */
final class BenchModels {
  private BenchModels() {}

  /**
   * A benchmark model: forward proto (logits "z"), input name, per-sample input dims, the token
   * vocabulary for an int64 input (0 for float), erasable names and their values.
   */
  record Model(String name, OnnxMl.ModelProto proto, String input, long[] sample, int vocab, List<String> params,
      List<float[]> values) {}

  /** Collects initializers and their names as the model is built. */
  private static final class Params {
    final OnnxBuilder b;
    final Random rnd;
    final List<String> names = new ArrayList<>();
    final List<float[]> values = new ArrayList<>();
    int next;

    Params(OnnxBuilder b, Random rnd) {
      this.b = b;
      this.rnd = rnd;
    }

    String add(String prefix, double scale, double mean, long... dims) {
      long n = 1;
      for (long d : dims) {
        n *= d;
      }
      float[] v = new float[(int) n];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) (mean + scale * rnd.nextGaussian());
      }
      String name = prefix + "_" + next++;
      b.initializer(name, v, dims);
      names.add(name);
      values.add(v);
      return name;
    }
  }

  /**
   * A Conv1d text CNN over a symbolic sequence length 'S' (tokens [N, S]): embedding 1000×64,
   * Conv1d 64→128 (k 5, pad 2), ReLU, Conv1d 128→128 (k 3, stride 2, pad 1), ReLU, mean over the
   * sequence, linear head to 10. {@link Model#sample()} is [-1] (any length).
   */
  static Model textCnn(Random rnd) {
    long vocab = 1000;
    long e = 64;
    long c = 128;
    OnnxBuilder b = new OnnxBuilder("text_cnn").opset(17);
    b.int64Input("tokens", -1, -1);
    Params p = new Params(b, rnd);
    String table = p.add("embed", 0.1, 0, vocab, e);
    b.node("Gather", new String[] {table, "tokens"}, new String[] {"emb"}, "axis", 0L)
        .node("Transpose", new String[] {"emb"}, new String[] {"nes"}, "perm", new long[] {0, 2, 1})
        .node("Conv", new String[] {"nes", p.add("conv1_w", Math.sqrt(2.0 / (e * 5)), 0, c, e, 5),
            p.add("conv1_b", 0.01, 0, c)}, new String[] {"c1"}, "pads", new long[] {2, 2})
        .node("Relu", "r1", "c1")
        .node("Conv", new String[] {"r1", p.add("conv2_w", Math.sqrt(2.0 / (c * 3)), 0, c, c, 3),
            p.add("conv2_b", 0.01, 0, c)}, new String[] {"c2"}, "pads", new long[] {1, 1}, "strides", new long[] {2})
        .node("Relu", "r2", "c2")
        .node("ReduceMean", new String[] {"r2"}, new String[] {"pooled"}, "axes", new long[] {2}, "keepdims", 0L);
    String w = p.add("head_w", Math.sqrt(1.0 / c), 0, c, 10);
    b.node("MatMul", "zm", "pooled", w).node("Add", "z", "zm", p.add("head_b", 0.01, 0, 10)).floatOutput("z", -1, 10);
    OnnxMl.ModelProto m = b.build();
    OnnxMl.GraphProto.Builder g = m.getGraph().toBuilder();
    g.getInputBuilder(0).getTypeBuilder().getTensorTypeBuilder().getShapeBuilder().getDimBuilder(1).setDimParam("S");
    return new Model("text-cnn [N,S]", m.toBuilder().setGraph(g).build(), "tokens", new long[] {-1}, (int) vocab,
        p.names, p.values);
  }

  static Model resnet18(Random rnd) {
    OnnxBuilder b = new OnnxBuilder("resnet18").opset(14).floatInput("x", -1, 3, 224, 224);
    Params p = new Params(b, rnd);
    String h = conv(p, "x", 3, 64, 7, 2, 3, true);
    b.node("MaxPool", new String[] {h}, new String[] {"pool"}, "kernel_shape", new long[] {3, 3},
        "strides", new long[] {2, 2}, "pads", new long[] {1, 1, 1, 1});
    h = "pool";
    long in = 64;
    int block = 0;
    for (long width : new long[] {64, 128, 256, 512}) {
      for (int k = 0; k < 2; k++) {
        long stride = k == 0 && width != 64 ? 2 : 1;
        String a = conv(p, h, in, width, 3, stride, 1, true);
        String c = conv(p, a, width, width, 3, 1, 1, false);
        String skip = stride != 1 || in != width ? conv(p, h, in, width, 1, stride, 0, false) : h;
        String sum = "sum" + block;
        b.node("Add", sum, c, skip).node("Relu", "block" + block, sum);
        h = "block" + block++;
        in = width;
      }
    }
    b.node("GlobalAveragePool", "gap", h).node("Flatten", "flat", "gap");
    String w = p.add("fc_w", Math.sqrt(1.0 / 512), 0, 1000, 512);
    String bias = p.add("fc_b", 0.01, 0, 1000);
    b.node("Gemm", new String[] {"flat", w, bias}, new String[] {"z"}, "transB", 1L).floatOutput("z", -1, 1000);
    return new Model("resnet18-size", b.build(), "x", new long[] {3, 224, 224}, 0, p.names, p.values);
  }

  private static String conv(Params p, String x, long in, long out, long k, long stride, long pad, boolean relu) {
    String w = p.add("conv_w", Math.sqrt(2.0 / (in * k * k)), 0, out, in, k, k);
    String bias = p.add("conv_b", 0.01, 0, out);
    String y = "c" + p.next;
    p.b.node("Conv", new String[] {x, w, bias}, new String[] {y}, "kernel_shape", new long[] {k, k},
        "strides", new long[] {stride, stride}, "pads", new long[] {pad, pad, pad, pad});
    if (!relu) {
      return y;
    }
    p.b.node("Relu", y + "r", y);
    return y + "r";
  }

  /**
   * The encoder classifier; with {@code torchLayout} the activations pass through attention's
   * [S, N, E] layout (a Transpose there and back), as torch's nn.MultiheadAttention exports, which
   * makes the gradient graph run one sample at a time.
   */
  static Model transformer(Random rnd, boolean torchLayout) {
    long vocab = 1000;
    long seq = 64;
    long e = 256;
    long heads = 4;
    long ff = 1024;
    OnnxBuilder b = new OnnxBuilder("encoder").opset(17);
    b.int64Input("tokens", -1, seq);
    Params p = new Params(b, rnd);
    String table = p.add("embed", 0.1, 0, vocab, e);
    String pos = p.add("pos", 0.1, 0, seq, e);
    b.node("Gather", new String[] {table, "tokens"}, new String[] {"emb"}, "axis", 0L).node("Add", "h0", "emb", pos);
    String h = "h0";
    if (torchLayout) {
      b.node("Transpose", new String[] {h}, new String[] {"sne"}, "perm", new long[] {1, 0, 2})
          .node("Transpose", new String[] {"sne"}, new String[] {"nse"}, "perm", new long[] {1, 0, 2});
      h = "nse";
    }
    b.int64Initializer("heads_shape", new long[] {0, seq, heads, e / heads}, 4)
        .int64Initializer("merge_shape", new long[] {0, seq, e}, 3)
        .initializer("sqrt_d", new float[] {(float) Math.sqrt(e / heads)})
        .initializer("half", new float[] {0.5f}).initializer("one", new float[] {1f})
        .initializer("sqrt2", new float[] {(float) Math.sqrt(2)})
        .int64Initializer("qkv_split", new long[] {e, e, e}, 3);
    for (int l = 0; l < 4; l++) {
      String n1 = norm(p, h, e, "ln1_" + l);
      String qkv = "qkv" + l;
      b.node("MatMul", qkv, n1, p.add("w_qkv", Math.sqrt(1.0 / e), 0, e, 3 * e));
      String[] parts = {"q" + l, "k" + l, "v" + l};
      b.node("Split", new String[] {qkv, "qkv_split"}, parts, "axis", 2L);
      String[] hd = new String[3];
      for (int i = 0; i < 3; i++) {
        b.node("Reshape", parts[i] + "r", parts[i], "heads_shape")
            .node("Transpose", new String[] {parts[i] + "r"}, new String[] {parts[i] + "t"}, "perm",
                new long[] {0, 2, 1, 3});
        hd[i] = parts[i] + "t";
      }
      b.node("Transpose", new String[] {hd[1]}, new String[] {"kt" + l}, "perm", new long[] {0, 1, 3, 2})
          .node("MatMul", "sc" + l, hd[0], "kt" + l).node("Div", "scs" + l, "sc" + l, "sqrt_d")
          .node("Softmax", new String[] {"scs" + l}, new String[] {"att" + l}, "axis", -1L)
          .node("MatMul", "ctx" + l, "att" + l, hd[2])
          .node("Transpose", new String[] {"ctx" + l}, new String[] {"ctxt" + l}, "perm", new long[] {0, 2, 1, 3})
          .node("Reshape", "ctxm" + l, "ctxt" + l, "merge_shape")
          .node("MatMul", "o" + l, "ctxm" + l, p.add("w_o", Math.sqrt(1.0 / e), 0, e, e))
          .node("Add", "r1_" + l, h, "o" + l);
      String n2 = norm(p, "r1_" + l, e, "ln2_" + l);
      String f1 = "f1_" + l;
      b.node("MatMul", f1 + "m", n2, p.add("w_ff1", Math.sqrt(1.0 / e), 0, e, ff))
          .node("Add", f1, f1 + "m", p.add("b_ff1", 0.01, 0, ff))
          // exact GELU as torch exports it: x * 0.5 * (1 + erf(x / sqrt 2))
          .node("Div", f1 + "d", f1, "sqrt2").node("Erf", f1 + "e", f1 + "d").node("Add", f1 + "a", f1 + "e", "one")
          .node("Mul", f1 + "x", f1, f1 + "a").node("Mul", f1 + "g", f1 + "x", "half")
          .node("MatMul", "f2_" + l, f1 + "g", p.add("w_ff2", Math.sqrt(1.0 / ff), 0, ff, e))
          .node("Add", "h" + (l + 1), "r1_" + l, "f2_" + l);
      h = "h" + (l + 1);
    }
    b.node("ReduceMean", new String[] {h}, new String[] {"pooled"}, "axes", new long[] {1}, "keepdims", 0L);
    String w = p.add("head_w", Math.sqrt(1.0 / e), 0, e, 10);
    b.node("MatMul", "zm", "pooled", w).node("Add", "z", "zm", p.add("head_b", 0.01, 0, 10)).floatOutput("z", -1, 10);
    String name = torchLayout ? "encoder [S,N,E]" : "encoder-4x256";
    return new Model(name, b.build(), "tokens", new long[] {seq}, (int) vocab, p.names, p.values);
  }

  private static String norm(Params p, String x, long e, String name) {
    String scale = p.add("ln_scale", 0.05, 1, e);
    String bias = p.add("ln_bias", 0.02, 0, e);
    p.b.node("LayerNormalization", new String[] {x, scale, bias}, new String[] {name}, "axis", -1L);
    return name;
  }
}
