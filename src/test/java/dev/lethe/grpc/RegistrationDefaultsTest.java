package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.Loss;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelSpec;
import dev.lethe.onnx.OnnxBuilder;
import dev.lethe.onnx.TorchFixtures;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #12's traps through the real server: defaults that could silently be wrong are refused
 * (nothing registered) or resolved in a way ModelInfo states.
 */
class RegistrationDefaultsTest {
  @TempDir Path dir;

  private static ModelSpec.Builder spec(String name) {
    return ModelSpec.newBuilder().setName(name).setLoss(Loss.SOFTMAX_CROSS_ENTROPY).setTrainSize(100);
  }

  private static StatusRuntimeException refused(ServerHarness h, ModelSpec spec, byte[] onnx) {
    List<ModelInfo> before = h.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsList();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> h.put(spec, onnx));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.getStatus().toString());
    assertEquals(before, h.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsList());
    return e;
  }

  /**
   * Trap 1: a model whose default list would leave out the weights of an op Lethe cannot
   * differentiate (here a ConvTranspose upsampling before the head) is refused, naming them.
   */
  @Test
  void emptyErasableListLeavingOutTrainedWeightsIsRefused() throws Exception {
    float[] up = new float[8];
    java.util.Arrays.fill(up, 0.5f);
    byte[] onnx = new OnnxBuilder("upsample").opset(13).floatInput("x", -1, 1, 3, 3)
        .initializer("Wt", up, 1, 2, 2, 2).initializer("W", new float[32 * 3], 32, 3)
        .node("ConvTranspose", new String[] {"x", "Wt"}, new String[] {"u"}, "kernel_shape", new long[] {2, 2})
        .node("Flatten", new String[] {"u"}, new String[] {"f"}, "axis", 1L).node("MatMul", "logits", "f", "W")
        .floatOutput("logits", -1, 3).build().toByteArray();
    try (ServerHarness h = new ServerHarness(dir, 1 << 24)) {
      String m = refused(h, spec("up").build(), onnx).getStatus().getDescription();
      assertTrue(m.startsWith("spec.erasable_parameters: empty: the default list would leave out trained float "
          + "initializers on the path to the logits: 'Wt' (input 1 of node '"), m);
      assertTrue(m.endsWith("' (op ConvTranspose, which Lethe cannot differentiate)); name the erasable parameters, "
          + "or set spec.frozen_prefix to keep them frozen"), m);
    }
  }

  /** Trap 1 as reported (an LSTM classifier registering with only its embedding and head) is gone. */
  @Test
  void lstmExportRegistersWithEveryWeight() throws Exception {
    try (ServerHarness h = new ServerHarness(dir, 1 << 24)) {
      ModelInfo info = h.put(spec("lstm").build(), TorchFixtures.modelBytes("lstm", 14));
      assertEquals(new java.util.HashSet<>(TorchFixtures.reference("lstm", 14).parameters()),
          new java.util.HashSet<>(info.getSpec().getErasableParametersList()));
    }
  }

  /**
   * x → PRelu(slope S) → MatMul(W): the default list is [W]; S would be left out. Refused unless
   * frozen_prefix says so, or the list names what is erasable.
   */
  @Test
  void frozenPrefixOrAnExplicitListAcceptsTheLeftOutWeights() throws Exception {
    byte[] onnx = new OnnxBuilder("prelu").opset(13).floatInput("x", -1, 4)
        .initializer("S", new float[] {0.1f, 0.2f, 0.3f, 0.4f}, 4)
        .initializer("W", new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 4, 3)
        .node("PRelu", "p", "x", "S").node("MatMul", "logits", "p", "W").floatOutput("logits", -1, 3)
        .build().toByteArray();
    try (ServerHarness h = new ServerHarness(dir, 1 << 24)) {
      String m = refused(h, spec("a").build(), onnx).getStatus().getDescription();
      assertTrue(m.contains(": 'S' (input 1 of node '") && m.contains("' (op PRelu, which Lethe cannot differentiate))"), m);
      assertTrue(!m.contains("'W'"), "W is in the default list: " + m);
      ModelInfo frozen = h.put(spec("a").setFrozenPrefix(true).build(), onnx);
      assertEquals(List.of("W"), frozen.getSpec().getErasableParametersList());
      assertEquals(12, frozen.getParameterCount());
      ModelInfo named = h.put(spec("b").addErasableParameters("W").build(), onnx);
      assertEquals(List.of("W"), named.getSpec().getErasableParametersList());
    }
  }

  /**
   * Trap 2: an empty logits_output on a graph whose output is a Softmax takes the Softmax's input,
   * says so, and the gradients are torch's on the logits (not on probabilities).
   */
  @Test
  void emptyLogitsOnASoftmaxOutputTakesItsInput() throws Exception {
    byte[] onnx = TorchFixtures.modelBytes("gelu_mlp_softmax", 14);
    try (ServerHarness h = new ServerHarness(dir, 1 << 24)) {
      ModelInfo info = h.put(spec("probs").build(), onnx);
      String logits = info.getSpec().getLogitsOutput();
      assertTrue(info.getLogitsSource().startsWith("the input of the final Softmax node '"), info.getLogitsSource());
      assertTrue(info.getLogitsSource().endsWith("(the graph output 'logits' is its Softmax)"), info.getLogitsSource());
      assertEquals(List.of(4L), info.getOutputDimsList());
      assertTrue(info.getRegistrationMs() > 0, "PutModel reports its time");
      TorchFixtures.assertMatchesTorch(TorchFixtures.model("gelu_mlp_softmax", 14), logits,
          TorchFixtures.reference("gelu_mlp_softmax", 14));
      // named logits: the spec's name, no note
      ModelInfo named = h.put(spec("named").setLogitsOutput(logits).build(), onnx);
      assertEquals("", named.getLogitsSource());
      // a model ending in its logits: "the graph output"
      ModelInfo plain = h.put(spec("plain").build(), TorchFixtures.modelBytes("gelu_mlp", 14));
      assertEquals("logits", plain.getSpec().getLogitsOutput());
      assertEquals("the graph output", plain.getLogitsSource());
      ModelInfo listed = h.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsList().stream()
          .filter(x -> x.getName().equals("probs")).findFirst().orElseThrow();
      assertEquals(info.getLogitsSource(), listed.getLogitsSource());
      assertEquals(0, listed.getRegistrationMs(), "only PutModel's answer carries the time");
    }
  }
}
