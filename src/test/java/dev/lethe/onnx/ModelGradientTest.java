package dev.lethe.onnx;

import static dev.lethe.onnx.GradCheck.randn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.core.Loss;
import dev.lethe.core.SampleBatch;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Whole models checked against finite differences (see {@link GradCheck} for tolerances). */
class ModelGradientTest {

  static GradCheck.Case mlp(Random rnd, Loss loss, double l2) {
    OnnxBuilder b = new OnnxBuilder("mlp")
        .floatInput("x", -1, 6)
        .initializer("W1", randn(rnd, 0.5, 5, 6), 5, 6)
        .initializer("b1", randn(rnd, 0.1, 5), 5)
        .initializer("W2", randn(rnd, 0.5, 5, 4), 5, 4)
        .initializer("b2", randn(rnd, 0.1, 4), 4)
        .node("Gemm", new String[] {"x", "W1", "b1"}, new String[] {"h"}, "transB", 1L)
        .node("Tanh", "a", "h")
        .node("MatMul", "m", "a", "W2")
        .node("Add", "z", "m", "b2")
        .floatOutput("z", -1, 4);
    return new GradCheck.Case(b.build(), "z", loss, List.of("W1", "b1", "W2", "b2"), l2);
  }

  @Test
  void mlpEveryLoss() {
    for (Loss loss : Loss.values()) {
      Random rnd = new Random(1 + loss.ordinal());
      GradCheck.Case c = mlp(rnd, loss, 0.01);
      SampleBatch batch = GradCheck.batch(rnd, 4, loss, 4, "x", new long[] {6});
      GradCheck.verify(c, batch, 12, rnd);
    }
  }

  @Test
  void perSampleGradientsDifferBetweenSamples() {
    Random rnd = new Random(7);
    GradCheck.Case c = mlp(rnd, Loss.SOFTMAX_CROSS_ENTROPY, 0);
    SampleBatch batch = GradCheck.batch(rnd, 3, c.loss(), 4, "x", new long[] {6});
    GradientResult r = GradCheck.verify(c, batch, 4, rnd);
    int p = (int) r.parameterCount();
    assertEquals(6 * 5 + 5 + 5 * 4 + 4, p);
    boolean differ = false;
    for (int k = 0; k < p; k++) {
      differ |= r.gradients()[k] != r.gradients()[p + k];
    }
    assertTrue(differ, "rows of different samples must differ");
    assertFalse(Float.isNaN(r.norms()[0]));
  }
}
