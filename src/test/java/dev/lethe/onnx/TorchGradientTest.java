package dev.lethe.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashSet;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * PyTorch exports ({@link TorchFixtures}) at opsets 13, 14 and 17: every torch parameter is
 * erasable (by name and by the default list), and Lethe's per-sample gradients equal torch
 * autograd's (computed in float64) to {@value TorchFixtures#REL_TOL} relative per parameter tensor
 * and sample (Lethe runs in float32).
 */
class TorchGradientTest {
  /** The families Lethe differentiates whole (see README, "Models known to work"). */
  static final List<String> FAMILIES = List.of("resnet", "mobilenet_v2", "mobilenet_v3", "gelu_mlp",
      "transformer", "lstm", "gru");

  static Stream<Arguments> cases() {
    return FAMILIES.stream().flatMap(f -> Stream.of(13, 14, 17).map(o -> Arguments.of(f, o)));
  }

  @ParameterizedTest(name = "{0} opset {1}")
  @MethodSource("cases")
  void gradientsEqualTorchAutograd(String family, int opset) {
    TorchFixtures.Reference ref = TorchFixtures.reference(family, opset);
    var model = TorchFixtures.model(family, opset);
    ModelGraph byDefault = ModelGraph.inspect(TorchFixtures.modelBytes(family, opset), "logits", List.of());
    assertEquals(new HashSet<>(ref.parameters()), new HashSet<>(byDefault.parameterNames()),
        "the default erasable list is every torch parameter");
    TorchFixtures.assertMatchesTorch(model, "logits", ref);
  }

  /**
   * Not yet supported (README, "PyTorch models"): a symbolic sequence length. The message a user
   * sees is pinned here, for every opset.
   */
  @ParameterizedTest(name = "opset {0}")
  @org.junit.jupiter.params.provider.ValueSource(ints = {13, 14, 17})
  void dynamicSequenceLengthIsRefused(int opset) {
    dev.lethe.core.LetheException e = org.junit.jupiter.api.Assertions.assertThrows(dev.lethe.core.LetheException.class,
        () -> GradientGraph.check(TorchFixtures.model("text_dynamic", opset), "logits",
            dev.lethe.core.LossFunction.SOFTMAX_CROSS_ENTROPY, TorchFixtures.reference("text_dynamic", opset).parameters()));
    assertEquals("model: input 'tokens' dimension 1 is not fixed; only the batch dimension may be symbolic",
        e.getMessage());
  }
}
