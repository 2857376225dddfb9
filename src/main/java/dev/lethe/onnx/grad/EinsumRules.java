package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;
import java.util.ArrayList;
import java.util.List;

/**
 * The backward rule of Einsum for the forms attention and bilinear layers use: explicit or
 * implicit output, any number of operands, no ellipsis and no letter repeated within one operand.
 * The gradient of operand i is itself an Einsum of the output gradient with the other operands,
 * written to operand i's subscripts; the per-sample batch is a letter of its own: the output's
 * first letter when the output is batched (an unbatched operand's gradient keeps it, so a weight
 * gets one slice per sample), a fresh one when it is not. A letter of operand i that appears
 * nowhere else (summed out within the operand) is broadcast back (Expand).
 */
final class EinsumRules {
  private EinsumRules() {}

  static String[] einsum(OnnxMl.NodeProto node, String g, GradContext ctx) {
    String eq = GradContext.attrString(node, "equation", "").replace(" ", "");
    if (eq.contains(".")) {
      throw GradContext.unsupported(node, "an ellipsis in the equation");
    }
    String[] io = eq.split("->", -1);
    String[] subs = io[0].split(",", -1);
    String out = io.length > 1 ? io[1] : implicitOutput(subs);
    if (subs.length != node.getInputCount()) {
      throw GradContext.unsupported(node, "the equation names " + subs.length + " operands");
    }
    for (String s : subs) {
      if (s.chars().distinct().count() != s.length()) {
        throw GradContext.unsupported(node, "a letter repeated within an operand (a diagonal)");
      }
    }
    ValueMeta my = ctx.meta(node.getOutput(0));
    char batch;
    String gSub;
    if (my.batched()) {
      batch = out.charAt(0);
      gSub = out;
    } else {
      batch = fresh(eq);
      gSub = batch + out;
    }
    Emitter e = ctx.emit();
    String[] grads = new String[subs.length];
    for (int i = 0; i < subs.length; i++) {
      String x = node.getInput(i);
      if (!ctx.needsGrad(x)) {
        continue;
      }
      ValueMeta mx = ctx.meta(x);
      String target = mx.batched() ? subs[i] : batch + subs[i];
      List<String> ins = new ArrayList<>(List.of(g));
      StringBuilder lhs = new StringBuilder(gSub);
      for (int k = 0; k < subs.length; k++) {
        if (k != i) {
          ins.add(node.getInput(k));
          lhs.append(',').append(subs[k]);
        }
      }
      // a letter summed out within operand i alone: its gradient is constant along it (broadcast)
      StringBuilder kept = new StringBuilder();
      List<Long> missing = new ArrayList<>();
      long[] expand = new long[target.length()];
      java.util.Arrays.fill(expand, 1);
      long[] gShape = GradContext.prepend(-1, mx.sampleShape());
      for (int p = 0; p < target.length(); p++) {
        char c = target.charAt(p);
        if (lhs.indexOf(String.valueOf(c)) < 0) {
          missing.add((long) p);
          expand[p] = gShape[p];
        } else {
          kept.append(c);
        }
      }
      String gi = e.op("Einsum", ins.toArray(String[]::new), "equation", lhs + "->" + kept);
      if (!missing.isEmpty()) {
        gi = e.op("Expand", new String[] {e.unsqueeze(gi, missing.stream().mapToLong(Long::longValue).toArray()),
            e.ints(expand)});
      }
      grads[i] = gi;
    }
    return grads;
  }

  /** numpy's implicit output: the letters that appear once, in alphabetical order. */
  private static String implicitOutput(String[] subs) {
    String all = String.join("", subs);
    StringBuilder out = new StringBuilder();
    all.chars().distinct().sorted().filter(c -> all.indexOf(c) == all.lastIndexOf(c))
        .forEach(c -> out.append((char) c));
    return out.toString();
  }

  private static char fresh(String eq) {
    for (char c = 'z'; c >= 'a'; c--) {
      if (eq.indexOf(c) < 0) {
        return c;
      }
    }
    for (char c = 'Z'; c >= 'A'; c--) {
      if (eq.indexOf(c) < 0) {
        return c;
      }
    }
    throw new IllegalStateException("no free letter in " + eq);
  }
}
