package dev.lethe.onnx;

import static dev.lethe.onnx.GradCheck.randn;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Registration-time refusals: each is INVALID_ARGUMENT naming the field (and node/op). */
class GradientGraphErrorTest {

  private static OnnxMl.ModelProto withOp(String op, boolean afterParam) {
    Random rnd = new Random(41);
    OnnxBuilder b = new OnnxBuilder("m").floatInput("x", -1, 4)
        .initializer("W", randn(rnd, 0.5, 4, 3), 4, 3)
        .initializer("F", randn(rnd, 0.5, 4, 4), 4, 4);
    if (afterParam) {
      b.node("MatMul", "h", "x", "W").node(op, "z", "h");
    } else {
      b.node("MatMul", "f", "x", "F").node(op, "h", "f").node("MatMul", "z", "h", "W");
    }
    return b.build();
  }

  private static LetheException refused(OnnxMl.ModelProto m, String logits, List<String> params) {
    LetheException e = assertThrows(LetheException.class,
        () -> GradientGraph.check(m, logits, LossFunction.SOFTMAX_CROSS_ENTROPY, params));
    assertEquals(LetheException.Kind.INVALID_ARGUMENT, e.kind());
    return e;
  }

  @Test
  void unsupportedOpOnThePathNamesNodeOpAndSupportedSet() {
    LetheException e = refused(withOp("Sin", true), "z", List.of("W"));
    assertTrue(e.getMessage().startsWith("model: node 'Sin_1' (op Sin)"), e.getMessage());
    assertTrue(e.getMessage().contains("Gemm"), "lists the supported ops: " + e.getMessage());
  }

  @Test
  void unsupportedOpInFrozenPrefixIsAccepted() {
    assertDoesNotThrow(() -> GradientGraph.check(withOp("Sin", false), "z", LossFunction.SOFTMAX_CROSS_ENTROPY, List.of("W")));
  }

  @Test
  void unsupportedOpAfterTheLogitsIsAccepted() {
    assertDoesNotThrow(() -> GradientGraph.check(withOp("Sin", true), "h", LossFunction.SOFTMAX_CROSS_ENTROPY, List.of("W")));
  }

  @Test
  void unknownParameter() {
    LetheException e = refused(withOp("Relu", true), "z", List.of("W", "nope"));
    assertTrue(e.getMessage().startsWith("spec.erasable_parameters: 'nope'"), e.getMessage());
  }

  @Test
  void duplicateParameter() {
    LetheException e = refused(withOp("Relu", true), "z", List.of("W", "W"));
    assertTrue(e.getMessage().startsWith("spec.erasable_parameters:"), e.getMessage());
  }

  @Test
  void unknownLogits() {
    LetheException e = refused(withOp("Relu", true), "missing", List.of("W"));
    assertTrue(e.getMessage().startsWith("spec.logits_output: 'missing'"), e.getMessage());
  }

  @Test
  void oldOpsetRefused() {
    OnnxMl.ModelProto m = withOp("Relu", true).toBuilder().setOpsetImport(0,
        OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(11)).build();
    LetheException e = refused(m, "z", List.of("W"));
    assertTrue(e.getMessage().startsWith("model: opset 11"), e.getMessage());
  }

  @Test
  void batchMixingOpOnThePathRefused() {
    Random rnd = new Random(42);
    OnnxMl.ModelProto m = new OnnxBuilder("mix").floatInput("x", -1, 2, 3)
        .initializer("P", randn(rnd, 1, 2, 3), 2, 3)
        .node("Mul", "h", "x", "P")
        .node("Flatten", new String[] {"h"}, new String[] {"f"}, "axis", 2L)
        .node("Identity", "z", "f")
        .build();
    LetheException e = refused(m, "z", List.of("P"));
    assertTrue(e.getMessage().contains("batch on axis 0"), e.getMessage());
  }

  @Test
  void trainingModeBatchNormRefused() {
    Random rnd = new Random(43);
    OnnxMl.ModelProto m = new OnnxBuilder("bn").opset(15).floatInput("x", -1, 2)
        .initializer("s", randn(rnd, 1, 2), 2).initializer("b", randn(rnd, 1, 2), 2)
        .initializer("mu", randn(rnd, 1, 2), 2).initializer("v", new float[] {1, 1}, 2)
        .node("BatchNormalization", new String[] {"x", "s", "b", "mu", "v"}, new String[] {"z", "rm", "rv"}, "training_mode", 1L)
        .build();
    LetheException e = refused(m, "z", List.of("s"));
    assertTrue(e.getMessage().contains("training_mode"), e.getMessage());
  }

  /** x with dimension {@code axis} renamed to the symbolic 'S'. */
  private static OnnxMl.ModelProto withLength(OnnxBuilder b, int axis) {
    OnnxMl.ModelProto m = b.build();
    OnnxMl.GraphProto.Builder g = m.getGraph().toBuilder();
    g.getInputBuilder(0).getTypeBuilder().getTensorTypeBuilder().getShapeBuilder().getDimBuilder(axis)
        .clearDimValue().setDimParam("S");
    return m.toBuilder().setGraph(g).build();
  }

  @Test
  void logitsThatChangeSizeWithASymbolicLengthAreRefused() {
    Random rnd = new Random(43);
    OnnxMl.ModelProto m = withLength(new OnnxBuilder("per_token").floatInput("x", -1, -1, 4)
        .initializer("W", randn(rnd, 0.5, 4, 3), 4, 3).node("MatMul", "z", "x", "W"), 1);
    LetheException e = refused(m, "z", List.of("W"));
    assertEquals("spec.logits_output: 'z' has 12 elements per sample at samples.inputs[x] dimension 1 ('S') = 4"
        + " but 15 at samples.inputs[x] dimension 1 ('S') = 5; the logits of a model with symbolic input"
        + " dimensions must not change size with them", e.getMessage());
  }

  /**
   * An unpadded Conv1d of kernel 3 cannot run at length 2: refused at the first request of that
   * length, naming the input and the size; other lengths keep working.
   */
  @Test
  void aLengthTheModelCannotRunAtIsRefusedAtItsFirstRequest() {
    Random rnd = new Random(44);
    OnnxMl.ModelProto m = withLength(new OnnxBuilder("conv1d").floatInput("x", -1, 2, -1)
        .initializer("W", randn(rnd, 0.5, 3, 2, 3), 3, 2, 3)
        .node("Conv", "c", "x", "W")
        .node("ReduceMean", new String[] {"c"}, new String[] {"z"}, "axes", new long[] {2}, "keepdims", 0L), 2);
    GradientGraph g = GradientGraph.build(m, "z", LossFunction.MEAN_SQUARED_ERROR, List.of("W"), 0);
    assertEquals(List.of(4L), g.sizes());
    try (GradientEngine engine = new GradientEngine(g)) {
      var params = GradCheck.direct(GradCheck.initialValues(m, List.of("W")));
      LetheException e = assertThrows(LetheException.class,
          () -> engine.compute(GradCheck.batch(rnd, 2, LossFunction.MEAN_SQUARED_ERROR, 3, "x", new long[] {2, 2}), params));
      assertEquals(LetheException.Kind.INVALID_ARGUMENT, e.kind());
      assertTrue(e.getMessage().startsWith("samples.inputs[x]: the model cannot be differentiated at samples.inputs[x]"
          + " dimension 2 ('S') = 2: model: ONNX Runtime cannot run the model"), e.getMessage());
      assertEquals(2, engine.compute(GradCheck.batch(rnd, 2, LossFunction.MEAN_SQUARED_ERROR, 3, "x", new long[] {2, 7}), params).size());
      assertEquals(List.of(List.of(4L), List.of(7L)), engine.sizesBuilt());
    }
  }
}
