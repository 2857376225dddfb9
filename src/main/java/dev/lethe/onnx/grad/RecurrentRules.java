package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * LSTM and GRU (layout 0, default activations, forward, reverse or bidirectional, optional
 * initial states, peepholes and every output), differentiated by backpropagation through time
 * emitted into the graph: the recurrence is unrolled over the (static) sequence into primitive
 * ops (MatMul, Add, Split, Sigmoid, Tanh, Mul, Concat, Reshape), which recompute the forward
 * states, and {@link Backward} runs the table's rules over that unrolled path, seeded with the
 * gradients of Y, Y_h and Y_c. X must be a static value of a graph run one sample at a time
 * (ONNX's RNNs keep the batch on axis 1, so such graphs always are), where the sum over the
 * RNN's batch axis of size 1 is the per-sample gradient.
 */
final class RecurrentRules {
  private static final int FLOAT = OnnxMl.TensorProto.DataType.FLOAT_VALUE;

  private RecurrentRules() {}

  static String[] lstm(OnnxMl.NodeProto node, String g, GradContext ctx) {
    return new Unrolled(node, ctx, 4).lstm();
  }

  static String[] gru(OnnxMl.NodeProto node, String g, GradContext ctx) {
    return new Unrolled(node, ctx, 3).gru();
  }

  /** The unrolled forward of one node, its values' metadata, and the backward over it. */
  private static final class Unrolled {
    private final OnnxMl.NodeProto node;
    private final GradContext ctx;
    private final Emitter e;
    private final List<OnnxMl.NodeProto> path = new ArrayList<>();
    private final Map<String, ValueMeta> meta;
    private final Set<String> differentiated;
    private final long seq;
    private final long batch;
    private final long hidden;
    private final int dirs;
    private final int gates;

    Unrolled(OnnxMl.NodeProto node, GradContext ctx, int gates) {
      this.node = node;
      this.ctx = ctx;
      this.e = ctx.emit();
      this.gates = gates;
      this.meta = new HashMap<>(ctx.meta());
      this.differentiated = new HashSet<>(ctx.differentiated());
      ValueMeta mx = ctx.meta(node.getInput(0));
      if (mx.batched()) {
        throw GradContext.unsupported(node, "X keeps the batch on axis 0 (layout = 1)");
      }
      if (GradContext.attrInt(node, "layout", 0) != 0 || GradContext.attr(node, "activations") != null
          || GradContext.attr(node, "clip") != null || GradContext.attrInt(node, "input_forget", 0) != 0
          || !GradContext.input(node, 4).isEmpty()) {
        throw GradContext.unsupported(node, "only layout 0, the default activations, no clip, no input_forget "
            + "and no sequence_lens are differentiable");
      }
      long[] xs = mx.shape();
      seq = xs[0];
      batch = xs[1];
      hidden = GradContext.attrInt(node, "hidden_size", ctx.meta(node.getInput(2)).shape()[2]);
      dirs = GradContext.attrString(node, "direction", "forward").equals("bidirectional") ? 2 : 1;
    }

    /** Emits one node of the unrolled forward with a static output of the given shape. */
    private String op(String type, long[] shape, String[] inputs, Object... attrs) {
      String out = e.op(type, inputs, attrs);
      return record(out, shape);
    }

    private String[] split(String x, long[] shape, int axis, long[] sizes) {
      String[] outs = e.opN("Split", new String[] {x, e.ints(sizes)}, sizes.length, "axis", (long) axis);
      path.add(e.nodes().get(e.nodes().size() - 1));
      for (int i = 0; i < outs.length; i++) {
        long[] s = shape.clone();
        s[axis] = sizes[i];
        meta.put(outs[i], new ValueMeta(outs[i], FLOAT, s, false));
        differentiated.add(outs[i]);
      }
      return outs;
    }

    private String record(String out, long[] shape) {
      path.add(e.nodes().get(e.nodes().size() - 1));
      meta.put(out, new ValueMeta(out, FLOAT, shape, false));
      differentiated.add(out);
      return out;
    }

    private String reshape(String x, long... shape) {
      return op("Reshape", shape, new String[] {x, e.ints(shape)});
    }

    private String add(String a, String b, long[] shape) {
      return op("Add", shape, new String[] {a, b});
    }

    private String mul(String a, String b, long[] shape) {
      return op("Mul", shape, new String[] {a, b});
    }

    private String unary(String type, String a, long[] shape) {
      return op(type, shape, new String[] {a});
    }

    private String matmul(String a, String b, long[] shape) {
      return op("MatMul", shape, new String[] {a, b});
    }

    /** Input i split per direction, each reshaped to {@code each}; null when absent. */
    private String[] perDirection(int i, long... each) {
      String x = GradContext.input(node, i);
      if (x.isEmpty()) {
        return null;
      }
      long[] full = ctx.meta(x).shape();
      String[] parts = dirs == 1 ? new String[] {x} : split(x, full, 0, new long[] {1, 1});
      String[] out = new String[dirs];
      for (int d = 0; d < dirs; d++) {
        out[d] = reshape(parts[d], each);
      }
      return out;
    }

    private String zeros(long... shape) {
      int n = 1;
      for (long s : shape) {
        n *= (int) s;
      }
      String z = e.floats(new float[n], shape);
      meta.put(z, new ValueMeta(z, FLOAT, shape, false));
      return z;
    }

    private long[] bh() {
      return new long[] {batch, hidden};
    }

    /** Xt [b, D] for every t. */
    private String[] steps() {
      String x = node.getInput(0);
      long[] xs = ctx.meta(x).shape();
      long[] ones = new long[(int) seq];
      java.util.Arrays.fill(ones, 1);
      String[] parts = seq == 1 ? new String[] {x} : split(x, xs, 0, ones);
      String[] out = new String[(int) seq];
      for (int t = 0; t < seq; t++) {
        out[t] = reshape(parts[t], batch, xs[2]);
      }
      return out;
    }

    /** x W^T + h R^T + Wb + Rb for direction d: [b, G·H]. */
    private String preactivation(String xt, String h, String wT, String rT, String bias) {
      long[] gs = {batch, gates * hidden};
      String s = add(matmul(xt, wT, gs), matmul(h, rT, gs), gs);
      return bias == null ? s : add(s, bias, gs);
    }

    private String[] weights(String[] w, long in) {
      String[] t = new String[dirs];
      for (int d = 0; d < dirs; d++) {
        t[d] = op("Transpose", new long[] {in, gates * hidden}, new String[] {w[d]}, "perm", new long[] {1, 0});
      }
      return t;
    }

    String[] lstm() {
      long d0 = ctx.meta(node.getInput(1)).shape()[2];
      String[] wT = weights(perDirection(1, 4 * hidden, d0), d0);
      String[] rT = weights(perDirection(2, 4 * hidden, hidden), hidden);
      String[] bias = biases();
      String[] h0 = perDirection(5, batch, hidden);
      String[] c0 = perDirection(6, batch, hidden);
      String[] p = perDirection(7, 3 * hidden);
      String[][] peep = new String[dirs][];
      for (int d = 0; d < dirs && p != null; d++) {
        peep[d] = split(p[d], new long[] {3 * hidden}, 0, new long[] {hidden, hidden, hidden}); // i, o, f
      }
      String[] xs = steps();
      String[][] hs = new String[dirs][(int) seq];
      String[] hLast = new String[dirs];
      String[] cLast = new String[dirs];
      long[] s = bh();
      for (int d = 0; d < dirs; d++) {
        boolean reverse = d == 1 || GradContext.attrString(node, "direction", "forward").equals("reverse");
        String h = h0 == null ? zeros(s) : h0[d];
        String c = c0 == null ? zeros(s) : c0[d];
        for (int k = 0; k < seq; k++) {
          int t = reverse ? (int) seq - 1 - k : k;
          String[] gt = split(preactivation(xs[t], h, wT[d], rT[d], bias == null ? null : bias[d]),
              new long[] {batch, 4 * hidden}, 1, new long[] {hidden, hidden, hidden, hidden}); // i, o, f, c
          String i = p == null ? gt[0] : add(gt[0], mul(peep[d][0], c, s), s);
          String f = p == null ? gt[2] : add(gt[2], mul(peep[d][2], c, s), s);
          i = unary("Sigmoid", i, s);
          f = unary("Sigmoid", f, s);
          c = add(mul(f, c, s), mul(i, unary("Tanh", gt[3], s), s), s);
          String o = unary("Sigmoid", p == null ? gt[1] : add(gt[1], mul(peep[d][1], c, s), s), s);
          h = mul(o, unary("Tanh", c, s), s);
          hs[d][t] = h;
        }
        hLast[d] = h;
        cLast[d] = c;
      }
      return backward(hs, hLast, cLast);
    }

    String[] gru() {
      long d0 = ctx.meta(node.getInput(1)).shape()[2];
      String[] w = perDirection(1, 3 * hidden, d0);
      String[] r = perDirection(2, 3 * hidden, hidden);
      String[] wT = weights(w, d0);
      String[] b = perDirection(3, 6 * hidden);
      String[] h0 = perDirection(5, batch, hidden);
      boolean beforeReset = GradContext.attrInt(node, "linear_before_reset", 0) != 0;
      long[] s = bh();
      long[] gs = {batch, 3 * hidden};
      String[] xs = steps();
      String[][] hs = new String[dirs][(int) seq];
      String[] hLast = new String[dirs];
      for (int d = 0; d < dirs; d++) {
        boolean reverse = d == 1 || GradContext.attrString(node, "direction", "forward").equals("reverse");
        String[] rParts = split(r[d], new long[] {3 * hidden, hidden}, 0, new long[] {2 * hidden, hidden}); // zr, h
        String rzrT = op("Transpose", new long[] {hidden, 2 * hidden}, new String[] {rParts[0]}, "perm", new long[] {1, 0});
        String rhT = op("Transpose", new long[] {hidden, hidden}, new String[] {rParts[1]}, "perm", new long[] {1, 0});
        String[] wb = null;
        String[] rb = null;
        if (b != null) {
          String[] halves = split(b[d], new long[] {6 * hidden}, 0, new long[] {3 * hidden, 3 * hidden});
          wb = split(halves[0], new long[] {3 * hidden}, 0, new long[] {2 * hidden, hidden});
          rb = split(halves[1], new long[] {3 * hidden}, 0, new long[] {2 * hidden, hidden});
        }
        String h = h0 == null ? zeros(s) : h0[d];
        for (int k = 0; k < seq; k++) {
          int t = reverse ? (int) seq - 1 - k : k;
          String[] xg = split(matmul(xs[t], wT[d], gs), gs, 1, new long[] {2 * hidden, hidden}); // zr, h
          long[] zrShape = {batch, 2 * hidden};
          String zr = add(xg[0], matmul(h, rzrT, zrShape), zrShape);
          if (b != null) {
            zr = add(zr, add(wb[0], rb[0], new long[] {2 * hidden}), zrShape);
          }
          String[] zrParts = split(unary("Sigmoid", zr, zrShape), zrShape, 1, new long[] {hidden, hidden});
          String z = zrParts[0];
          String rt = zrParts[1];
          String cand;
          if (beforeReset) {
            String hr = matmul(h, rhT, s);
            if (b != null) {
              hr = add(hr, rb[1], s);
            }
            cand = add(xg[1], mul(rt, hr, s), s);
          } else {
            cand = add(xg[1], matmul(mul(rt, h, s), rhT, s), s);
            if (b != null) {
              cand = add(cand, rb[1], s);
            }
          }
          if (b != null) {
            cand = add(cand, wb[1], s);
          }
          String ht = unary("Tanh", cand, s);
          // H = (1 - z) h~ + z H_prev = h~ + z (H_prev - h~)
          h = add(ht, mul(z, op("Sub", s, new String[] {h, ht}), s), s);
          hs[d][t] = h;
        }
        hLast[d] = h;
      }
      return backward(hs, hLast, null);
    }

    /** B [dirs, 8H] as Wb + Rb [4H] per direction. */
    private String[] biases() {
      String[] b = perDirection(3, 8 * hidden);
      if (b == null) {
        return null;
      }
      String[] sums = new String[dirs];
      for (int d = 0; d < dirs; d++) {
        String[] halves = split(b[d], new long[] {8 * hidden}, 0, new long[] {4 * hidden, 4 * hidden});
        sums[d] = add(halves[0], halves[1], new long[] {4 * hidden});
      }
      return sums;
    }

    /** Stacks Y, Y_h, Y_c from the unrolled states and runs the backward seeded by their gradients. */
    private String[] backward(String[][] hs, String[] hLast, String[] cLast) {
      Map<String, String> seeds = new HashMap<>();
      String y = node.getOutputCount() > 0 ? node.getOutput(0) : "";
      if (!y.isEmpty() && ctx.gradOf(y) != null) {
        String[] perT = new String[(int) seq];
        for (int t = 0; t < seq; t++) {
          String[] perD = new String[dirs];
          for (int d = 0; d < dirs; d++) {
            perD[d] = reshape(hs[d][t], 1, 1, batch, hidden);
          }
          perT[t] = dirs == 1 ? perD[0] : op("Concat", new long[] {1, dirs, batch, hidden}, perD, "axis", 1L);
        }
        long[] ys = {seq, dirs, batch, hidden};
        String stacked = seq == 1 ? perT[0] : op("Concat", ys, perT, "axis", 0L);
        seeds.put(stacked, ctx.emit().reshape(ctx.gradOf(y), GradContext.prepend(-1, ys)));
      }
      seed(seeds, 1, hLast);
      if (cLast != null) {
        seed(seeds, 2, cLast);
      }
      GradContext local = new GradContext(meta, differentiated, ctx.constants(), e, ctx.opset());
      Map<String, String> grads = Backward.gradients(path, seeds, local);
      String[] out = new String[8];
      for (int i = 0; i < out.length; i++) {
        String x = GradContext.input(node, i);
        if (i != 4 && ctx.needsGrad(x) && grads.containsKey(x)) {
          out[i] = grads.get(x);
        }
      }
      return out;
    }

    private void seed(Map<String, String> seeds, int output, String[] last) {
      String o = output < node.getOutputCount() ? node.getOutput(output) : "";
      if (o.isEmpty() || ctx.gradOf(o) == null) {
        return;
      }
      String[] perD = new String[dirs];
      for (int d = 0; d < dirs; d++) {
        perD[d] = reshape(last[d], 1, batch, hidden);
      }
      long[] shape = {dirs, batch, hidden};
      String stacked = dirs == 1 ? perD[0] : op("Concat", shape, perD, "axis", 0L);
      seeds.put(stacked, ctx.emit().reshape(ctx.gradOf(o), GradContext.prepend(-1, shape)));
    }
  }
}
