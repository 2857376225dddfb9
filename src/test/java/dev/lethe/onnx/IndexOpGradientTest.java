package dev.lethe.onnx;

import static dev.lethe.onnx.GradCheck.randn;
import static dev.lethe.onnx.GradCheck.uniform;
import static dev.lethe.onnx.OpGradientTest.base;
import static dev.lethe.onnx.OpGradientTest.check;

import dev.lethe.core.DenseTensor;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The selection and placement ops (Gather, Slice, Split, Pad, Expand, Where, Cast) checked by
 * finite differences as in {@link OpGradientTest} (same model x ⊙ P → op → Flatten, MSE,
 * tolerances in {@link GradCheck}); the embedding case feeds int64 token ids.
 */
class IndexOpGradientTest {
  private static final long INT64_MAX = Long.MAX_VALUE;

  @Test
  void gatherWithKnownIndices() {
    Random rnd = new Random(31);
    long[] s = {4, 3};
    // repeated and negative indices along axis 1, a scalar index along axis 2
    check(rnd, base(rnd, 13, s).int64Initializer("idx", new long[] {2, 0, -2, 2}, 2, 2)
        .node("Gather", new String[] {"h0", "idx"}, new String[] {"y"}, "axis", 1L), "y", s, "P");
    check(rnd, base(rnd, 13, s).int64Initializer("last", new long[] {-1})
        .node("Gather", new String[] {"h0", "last"}, new String[] {"y"}, "axis", 2L), "y", s, "P");
    // a parameter table read at constant rows, then used by the batched value
    check(rnd, base(rnd, 13, 3, 3).initializer("T", randn(rnd, 1, 5, 3), 5, 3)
        .int64Initializer("rows", new long[] {4, 1, 4}, 3).node("Gather", new String[] {"T", "rows"}, new String[] {"t"},
            "axis", 0L).node("Mul", "y", "h0", "t"), "y", new long[] {3, 3}, "P", "T");
  }

  /** An embedding: token ids [N, 4] (with repeats) index a table [7, 3]; per-sample table gradients. */
  @Test
  void embedding() {
    Random rnd = new Random(32);
    OnnxBuilder b = new OnnxBuilder("emb").opset(13).int64Input("ids", -1, 4);
    b.initializer("E", randn(rnd, 1, 7, 3), 7, 3).initializer("Q", uniform(rnd, 0.5, 1.5, 3), 3)
        .node("Gather", new String[] {"E", "ids"}, new String[] {"e"}, "axis", 0L).node("Mul", "m", "e", "Q")
        .node("Tanh", "t", "m").node("Flatten", new String[] {"t"}, new String[] {"z"}, "axis", 1L);
    GradCheck.Case c = new GradCheck.Case(b.build(), "z", LossFunction.MEAN_SQUARED_ERROR, List.of("E", "Q"));
    long[] ids = {1, 1, 6, 0, 3, 5, 3, 3, 2, 6, 4, 1};
    Samples batch = new Samples(List.of(), Map.of("ids", DenseTensor.ofLongs(new long[] {3, 4}, ids)),
        GradCheck.labels(rnd, 3, LossFunction.MEAN_SQUARED_ERROR, 12));
    GradCheck.verify(c, batch, 21, rnd);
  }

  @Test
  void sliceStepsAndClamping() {
    Random rnd = new Random(33);
    long[] s = {4, 6};
    check(rnd, base(rnd, 13, s).int64Initializer("st", new long[] {1}, 1).int64Initializer("en", new long[] {3}, 1)
        .int64Initializer("ax", new long[] {1}, 1).node("Slice", "y", "h0", "st", "en", "ax"), "y", s, "P");
    check(rnd, base(rnd, 13, s).int64Initializer("st", new long[] {-5, 0}, 2)
        .int64Initializer("en", new long[] {INT64_MAX, 6}, 2).int64Initializer("ax", new long[] {-1, 1}, 2)
        .int64Initializer("sp", new long[] {2, 1}, 2).node("Slice", "y", "h0", "st", "en", "ax", "sp"), "y", s, "P");
    check(rnd, base(rnd, 13, s).int64Initializer("st", new long[] {-1}, 1).int64Initializer("en", new long[] {-INT64_MAX}, 1)
        .int64Initializer("ax", new long[] {2}, 1).int64Initializer("sp", new long[] {-3}, 1)
        .node("Slice", "y", "h0", "st", "en", "ax", "sp"), "y", s, "P");
  }

  @Test
  void splitWithUnusedOutput() {
    Random rnd = new Random(34);
    long[] s = {6};
    check(rnd, base(rnd, 13, s).int64Initializer("sizes", new long[] {2, 4}, 2)
        .node("Split", new String[] {"h0", "sizes"}, new String[] {"a", "b"}, "axis", 1L).node("Tanh", "ta", "a")
        .node("Concat", new String[] {"b", "ta"}, new String[] {"y"}, "axis", 1L), "y", s, "P");
    // only the second output is used
    check(rnd, base(rnd, 18, 2, 6).node("Split", new String[] {"h0"}, new String[] {"a", "b", "c"}, "axis", -1L,
        "num_outputs", 3L).node("Exp", "y", "b"), "y", new long[] {2, 6}, "P");
  }

  @Test
  void padExpandWhereCast() {
    Random rnd = new Random(35);
    long[] s = {2, 3};
    check(rnd, base(rnd, 13, s).int64Initializer("pads", new long[] {0, 1, 0, 0, 0, 2}, 6)
        .initializer("cv", new float[] {0.5f}).node("Pad", "y", "h0", "pads", "cv"), "y", s, "P");
    check(rnd, base(rnd, 13, s).initializer("Q", randn(rnd, 1, 1, 3), 1, 3).int64Initializer("shape", new long[] {2, 3}, 2)
        .node("Expand", "q", "Q", "shape").node("Mul", "y", "h0", "q"), "y", s, "P", "Q");
    check(rnd, base(rnd, 13, 1, 3).int64Initializer("shape", new long[] {1, 4, 3}, 3)
        .node("Expand", "y", "h0", "shape"), "y", new long[] {1, 3}, "P");
    check(rnd, base(rnd, 13, s).initializer("R", randn(rnd, 1, 2, 3), 2, 3).initializer("zero", new float[] {0f})
        .initializer("Q", randn(rnd, 1, 3), 3).node("Greater", "c", "R", "zero").node("Where", "y", "c", "h0", "Q"),
        "y", s, "P", "Q");
    check(rnd, base(rnd, 13, s).node("Cast", new String[] {"h0"}, new String[] {"y"}, "to", 1L), "y", s, "P");
  }

  /**
   * Values with the batch off axis 0 (attention's [S, N, E]): the graph runs one sample at a time
   * ({@link GradientGraph#perSample()}), where they are static values; gradients stay per sample.
   */
  @Test
  void batchOffAxisZero() {
    Random rnd = new Random(36);
    long[] s = {3, 4};
    OnnxBuilder b = base(rnd, 13, s).node("Transpose", new String[] {"h0"}, new String[] {"t"}, "perm",
            new long[] {1, 0, 2})
        .initializer("Q", randn(rnd, 1, 3, 1, 4), 3, 1, 4).initializer("W", randn(rnd, 0.5, 4, 2), 4, 2)
        .node("Mul", "m", "t", "Q").node("MatMul", "mw", "m", "W").node("Tanh", "a", "mw")
        .node("Concat", new String[] {"a", "a"}, new String[] {"c"}, "axis", 0L)
        .node("ReduceMean", new String[] {"c"}, new String[] {"y"}, "axes", new long[] {0}, "keepdims", 0L);
    check(rnd, b, "y", s, LossFunction.SOFTMAX_CROSS_ENTROPY, "P", "Q", "W");
    GradientGraph g = GradientGraph.build(b.build(), "y", LossFunction.SOFTMAX_CROSS_ENTROPY, List.of("P"), 0);
    org.junit.jupiter.api.Assertions.assertTrue(g.perSample(), "runs one sample at a time");
  }

  /** A cast to another float type on the path would cut it silently: refused, naming the node. */
  @Test
  void castToDoubleOnThePathIsRefused() {
    Random rnd = new Random(37);
    OnnxBuilder b = base(rnd, 13, 3).node("Cast", new String[] {"h0"}, new String[] {"d"}, "to", 11L)
        .node("Cast", new String[] {"d"}, new String[] {"y"}, "to", 1L)
        .node("Flatten", new String[] {"y"}, new String[] {"z"}, "axis", 1L);
    dev.lethe.core.LetheException e = org.junit.jupiter.api.Assertions.assertThrows(dev.lethe.core.LetheException.class,
        () -> GradientGraph.check(b.build(), "z", LossFunction.MEAN_SQUARED_ERROR, List.of("P")));
    org.junit.jupiter.api.Assertions.assertEquals("model: node 'Cast_1' (op Cast) makes a value that depends on an "
        + "erasable parameter DOUBLE; Lethe differentiates FLOAT", e.getMessage());
  }
}
