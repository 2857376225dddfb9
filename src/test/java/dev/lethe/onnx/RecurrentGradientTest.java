package dev.lethe.onnx;

import static dev.lethe.onnx.GradCheck.randn;
import static dev.lethe.onnx.GradCheck.uniform;

import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * LSTM and GRU checked by finite differences (tolerances in {@link GradCheck}): x [N, S, D] ⊙ P,
 * transposed to the RNN's [S, N, D], every output used (Y and Y_h, and Y_c for LSTM), in each
 * direction, with and without biases, initial states and peepholes (all erasable).
 */
class RecurrentGradientTest {
  private static final long S = 3;
  private static final long D = 2;
  private static final long H = 3;

  private static void check(Random rnd, String op, String direction, boolean full, long batch) {
    int dirs = direction.equals("bidirectional") ? 2 : 1;
    int gates = op.equals("LSTM") ? 4 : 3;
    long[] sample = {S, D};
    OnnxBuilder b = new OnnxBuilder("rnn").opset(14).floatInput("x", batch, S, D)
        .initializer("P", uniform(rnd, 0.5, 1.5, sample), sample).node("Mul", "h0", "x", "P")
        .node("Transpose", new String[] {"h0"}, new String[] {"xs"}, "perm", new long[] {1, 0, 2})
        .initializer("W", randn(rnd, 0.5, dirs, gates * H, D), dirs, gates * H, D)
        .initializer("R", randn(rnd, 0.5, dirs, gates * H, H), dirs, gates * H, H);
    List<String> params = new ArrayList<>(List.of("P", "W", "R"));
    List<String> ins = new ArrayList<>(List.of("xs", "W", "R"));
    if (full) {
      b.initializer("B", randn(rnd, 0.3, dirs, 2 * gates * H), dirs, 2 * gates * H)
          .initializer("Hi", randn(rnd, 0.3, dirs, 1, H), dirs, 1, H);
      ins.addAll(List.of("B", "", "Hi"));
      params.addAll(List.of("B", "Hi"));
      if (op.equals("LSTM")) {
        b.initializer("Ci", randn(rnd, 0.3, dirs, 1, H), dirs, 1, H)
            .initializer("Pp", randn(rnd, 0.3, dirs, 3 * H), dirs, 3 * H);
        ins.addAll(List.of("Ci", "Pp"));
        params.addAll(List.of("Ci", "Pp"));
      }
    }
    String[] outs = op.equals("LSTM") ? new String[] {"Y", "Yh", "Yc"} : new String[] {"Y", "Yh"};
    if (op.equals("GRU") && full) {
      b.node(op, ins.toArray(String[]::new), outs, "hidden_size", H, "direction", direction,
          "linear_before_reset", 1L);
    } else {
      b.node(op, ins.toArray(String[]::new), outs, "hidden_size", H, "direction", direction);
    }
    if (op.equals("LSTM")) {
      b.node("Add", "last", "Yh", "Yc");
    } else {
      b.node("Identity", "last", "Yh");
    }
    b.node("Transpose", new String[] {"Y"}, new String[] {"yt"}, "perm", new long[] {2, 0, 1, 3})
        .node("Flatten", new String[] {"yt"}, new String[] {"yf"}, "axis", 1L)
        .node("Transpose", new String[] {"last"}, new String[] {"lt"}, "perm", new long[] {1, 0, 2})
        .node("Flatten", new String[] {"lt"}, new String[] {"lf"}, "axis", 1L)
        .node("Concat", new String[] {"yf", "lf"}, new String[] {"z"}, "axis", 1L);
    GradCheck.Case c = new GradCheck.Case(b.build(), "z", LossFunction.MEAN_SQUARED_ERROR, params);
    GradientGraph g = GradientGraph.build(c.model(), "z", c.loss(), c.params(), 0);
    Samples batchOf = GradCheck.batch(rnd, 3, c.loss(), g.classes(), "x", sample);
    try {
      GradCheck.verify(c, batchOf, 12, rnd);
    } catch (AssertionError | RuntimeException e) {
      throw new AssertionError(op + " " + direction + (full ? " with biases and states" : "") + ": "
          + e.getMessage(), e);
    }
  }

  @Test
  void lstmEveryDirection() {
    Random rnd = new Random(41);
    for (String dir : new String[] {"forward", "reverse", "bidirectional"}) {
      check(rnd, "LSTM", dir, false, -1);
      check(rnd, "LSTM", dir, true, 1);
    }
  }

  @Test
  void gruEveryDirection() {
    Random rnd = new Random(42);
    for (String dir : new String[] {"forward", "reverse", "bidirectional"}) {
      check(rnd, "GRU", dir, false, -1);
      check(rnd, "GRU", dir, true, 1);
    }
  }
}
