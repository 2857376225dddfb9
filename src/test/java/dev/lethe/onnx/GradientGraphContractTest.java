package dev.lethe.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import ai.onnx.proto.OnnxMl;
import dev.lethe.core.LossFunction;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The documented input and output names of the emitted graphs (a contract for callers). */
class GradientGraphContractTest {

  private static List<String> names(List<OnnxMl.ValueInfoProto> infos) {
    return infos.stream().map(OnnxMl.ValueInfoProto::getName).toList();
  }

  @Test
  void lossAndCotangentGraphsDeclareTheDocumentedNames() {
    GradCheck.Case c = ModelGradientTest.mlp(new Random(61), LossFunction.SOFTMAX_CROSS_ENTROPY, 0.1);
    GradientGraph g = GradientGraph.build(c.model(), "z", c.loss(), c.params(), 0.1);
    OnnxMl.GraphProto loss = g.model(GradientGraph.Seed.LOSS).getGraph();
    assertEquals(List.of("x", "W1", "b1", "W2", "b2", GradientGraph.LABELS), names(loss.getInputList()));
    assertEquals(List.of("lethe_grad_0", "lethe_grad_1", "lethe_grad_2", "lethe_grad_3", GradientGraph.LOSS,
        GradientGraph.LOGITS, GradientGraph.SQ_NORMS), names(loss.getOutputList()));
    assertFalse(loss.getInitializerList().stream().anyMatch(t -> c.params().contains(t.getName())),
        "erasable parameters are inputs, not initializers");
    OnnxMl.GraphProto cot = g.model(GradientGraph.Seed.COTANGENT).getGraph();
    assertEquals(List.of("x", "W1", "b1", "W2", "b2", GradientGraph.COTANGENT), names(cot.getInputList()));
    assertEquals(List.of("lethe_grad_0", "lethe_grad_1", "lethe_grad_2", "lethe_grad_3", GradientGraph.LOGITS,
        GradientGraph.SQ_NORMS), names(cot.getOutputList()));
    assertEquals(6 * 5 + 5 + 5 * 4 + 4, g.parameterCount());
    assertEquals(4, g.classes());
  }
}
