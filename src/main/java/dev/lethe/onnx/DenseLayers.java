package dev.lethe.onnx;

import ai.onnx.proto.OnnxMl;
import dev.lethe.onnx.grad.GradContext;
import dev.lethe.onnx.grad.ValueMeta;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds the {@link DenseLayer}s of a forward graph, and prunes an emitted graph to what its
 * outputs need. Stateless.
 */
final class DenseLayers {
  private DenseLayers() {}

  /**
   * The erasable Gemm/MatMul weights whose per-sample gradient is δ aᵀ: a weight of rank 2,
   * unbatched, used by exactly one node (as its second input) and by nothing else; the first
   * input batched of rank 2 ([N, in], the batch its row axis: Gemm transA = 0); the node's output
   * on the way to the logits. A Gemm's C joins as the folded bias when it is erasable, of shape
   * [out] or [1, out], and used nowhere else. Ordered by weight index.
   */
  static List<DenseLayer> find(ForwardAnalysis fa, List<String> params) {
    Map<String, Integer> uses = new HashMap<>();
    for (OnnxMl.NodeProto n : fa.nodes) {
      for (String in : n.getInputList()) {
        uses.merge(in, 1, Integer::sum);
      }
    }
    Set<OnnxMl.NodeProto> onPath = new HashSet<>(fa.path);
    List<DenseLayer> out = new ArrayList<>();
    for (OnnxMl.NodeProto n : fa.nodes) {
      DenseLayer conv = conv(n, fa, params, uses, onPath);
      if (conv != null) {
        out.add(conv);
        continue;
      }
      boolean gemm = n.getOpType().equals("Gemm") && n.getDomain().isEmpty();
      boolean matmul = n.getOpType().equals("MatMul") && n.getDomain().isEmpty();
      if ((!gemm && !matmul) || !onPath.contains(n)
          || n.getInputCount() < 2 || !fa.ancestors.contains(n.getOutput(0))) {
        continue;
      }
      int w = params.indexOf(n.getInput(1));
      ValueMeta x = fa.meta.get(n.getInput(0));
      ValueMeta wm = fa.meta.get(n.getInput(1));
      if (w < 0 || x == null || wm == null || !x.batched() || x.rank() != 2 || wm.batched()
          || wm.rank() != 2 || uses.getOrDefault(n.getInput(1), 0) != 1
          || params.contains(n.getInput(0))) {
        continue;
      }
      boolean transB = gemm && GradContext.attrInt(n, "transB", 0) != 0;
      if (gemm && GradContext.attrInt(n, "transA", 0) != 0) {
        continue;
      }
      long[] s = wm.shape();
      int in = (int) (transB ? s[1] : s[0]);
      int outDim = (int) (transB ? s[0] : s[1]);
      int bias = -1;
      if (gemm && n.getInputCount() > 2 && !n.getInput(2).isEmpty()) {
        String c = n.getInput(2);
        int ci = params.indexOf(c);
        ValueMeta cm = fa.meta.get(c);
        boolean shape = cm != null && !cm.batched() && ((cm.rank() == 1 && cm.shape()[0] == outDim)
            || (cm.rank() == 2 && cm.shape()[0] == 1 && cm.shape()[1] == outDim));
        if (ci >= 0 && shape && uses.getOrDefault(c, 0) == 1) {
          bias = ci;
        }
      }
      float alpha = gemm ? GradContext.attrFloat(n, "alpha", 1f) : 1f;
      float beta = gemm ? GradContext.attrFloat(n, "beta", 1f) : 1f;
      out.add(new DenseLayer(w, bias, outDim, in, transB, alpha, beta, n.getOutput(0)));
    }
    out.sort(java.util.Comparator.comparingInt(DenseLayer::weight));
    return List.copyOf(out);
  }

  /**
   * A Conv (group 1, 1 to 3 spatial axes) whose erasable kernel [M, C, k...] is used only by it,
   * with X batched [N, C, ...]: in = C·K, out = M, T = the output positions; its erasable B [M]
   * (used nowhere else) folds in as the constant input 1. Null otherwise.
   */
  private static DenseLayer conv(OnnxMl.NodeProto n, ForwardAnalysis fa, List<String> params,
      Map<String, Integer> uses, Set<OnnxMl.NodeProto> onPath) {
    if (!n.getOpType().equals("Conv") || !n.getDomain().isEmpty() || !onPath.contains(n)
        || n.getInputCount() < 2 || !fa.ancestors.contains(n.getOutput(0))
        || GradContext.attrInt(n, "group", 1) != 1) {
      return null;
    }
    int w = params.indexOf(n.getInput(1));
    ValueMeta x = fa.meta.get(n.getInput(0));
    ValueMeta wm = fa.meta.get(n.getInput(1));
    ValueMeta y = fa.meta.get(n.getOutput(0));
    if (w < 0 || x == null || wm == null || y == null || !x.batched() || x.rank() < 3
        || x.rank() > 5 || wm.batched() || wm.rank() != x.rank() || !y.batched()
        || uses.getOrDefault(n.getInput(1), 0) != 1 || params.contains(n.getInput(0))) {
      return null;
    }
    long[] s = wm.shape();
    long k = 1;
    for (int i = 2; i < s.length; i++) {
      k *= s[i];
    }
    long t = 1;
    long[] ys = y.shape();
    for (int i = 2; i < ys.length; i++) {
      t *= ys[i];
    }
    int bias = -1;
    if (n.getInputCount() > 2 && !n.getInput(2).isEmpty()) {
      int bi = params.indexOf(n.getInput(2));
      ValueMeta bm = fa.meta.get(n.getInput(2));
      if (bi >= 0 && bm != null && !bm.batched() && bm.rank() == 1 && bm.shape()[0] == s[0]
          && uses.getOrDefault(n.getInput(2), 0) == 1) {
        bias = bi;
      }
    }
    return new DenseLayer(w, bias, (int) s[0], (int) (s[1] * k), true, 1f, 1f, n.getOutput(0),
        (int) t);
  }

  /** The graph with only the nodes (and initializers) its outputs need. */
  static OnnxMl.GraphProto prune(OnnxMl.GraphProto.Builder g) {
    Set<String> needed = new HashSet<>();
    g.getOutputList().forEach(o -> needed.add(o.getName()));
    List<OnnxMl.NodeProto> nodes = g.getNodeList();
    boolean[] keep = new boolean[nodes.size()];
    // nodes are in topological order: one backward sweep finds every needed producer
    for (int i = nodes.size() - 1; i >= 0; i--) {
      OnnxMl.NodeProto n = nodes.get(i);
      if (n.getOutputList().stream().anyMatch(needed::contains)) {
        keep[i] = true;
        needed.addAll(n.getInputList());
        for (OnnxMl.AttributeProto a : n.getAttributeList()) {
          if (a.hasG()) {
            a.getG().getNodeList().forEach(sub -> needed.addAll(sub.getInputList()));
          }
        }
      }
    }
    OnnxMl.GraphProto.Builder out = g.clone().clearNode().clearInitializer();
    for (int i = 0; i < nodes.size(); i++) {
      if (keep[i]) {
        out.addNode(nodes.get(i));
      }
    }
    for (OnnxMl.TensorProto t : g.getInitializerList()) {
      if (needed.contains(t.getName())) {
        out.addInitializer(t);
      }
    }
    return out.build();
  }

  /**
   * Emits the FACTORS graph's outputs of each layer: its input (a Conv's im2col patches)
   * [N, in·T] and the cotangent at its output [N, out·T].
   */
  static void emitOutputs(List<DenseLayer> layers, ForwardAnalysis fa, Map<String, String> grads,
      GradContext ctx, OnnxMl.GraphProto.Builder g) {
    dev.lethe.onnx.grad.Emitter e = ctx.emit();
    for (int i = 0; i < layers.size(); i++) {
      DenseLayer l = layers.get(i);
      OnnxMl.NodeProto node = fa.nodes.stream().filter(n -> n.getOutput(0).equals(l.node())).findFirst()
          .orElseThrow();
      String delta = grads.get(l.node());
      long t = l.positions();
      String input = node.getOpType().equals("Conv")
          ? e.reshape(dev.lethe.onnx.grad.GradRules.convPatches(node, ctx), -1, l.in() * t)
          : node.getInput(0);
      e.node("Identity", new String[] {input}, new String[] {GradientGraph.LAYER_INPUT_PREFIX + i});
      e.node("Identity", new String[] {e.reshape(delta, -1, l.out() * t)}, new String[] {GradientGraph.LAYER_COTANGENT_PREFIX + i});
      g.addOutput(OnnxBuilder.valueInfo(GradientGraph.LAYER_INPUT_PREFIX + i, OnnxMl.TensorProto.DataType.FLOAT_VALUE,
          new long[] {-1, l.in() * t}));
      g.addOutput(OnnxBuilder.valueInfo(GradientGraph.LAYER_COTANGENT_PREFIX + i, OnnxMl.TensorProto.DataType.FLOAT_VALUE,
          new long[] {-1, l.out() * t}));
    }
  }

  /** Indices below {@code count} of the parameters no layer covers (spec order). */
  static int[] others(List<DenseLayer> layers, int count) {
    boolean[] covered = new boolean[count];
    for (DenseLayer l : layers) {
      covered[l.weight()] = true;
      if (l.bias() >= 0) {
        covered[l.bias()] = true;
      }
    }
    return java.util.stream.IntStream.range(0, count).filter(i -> !covered[i]).toArray();
  }
}
