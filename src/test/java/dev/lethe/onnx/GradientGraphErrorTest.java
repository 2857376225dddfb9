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
}
