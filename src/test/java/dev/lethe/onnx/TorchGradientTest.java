package dev.lethe.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.core.LossFunction;
import java.util.HashSet;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * PyTorch exports ({@link TorchFixtures}) at opsets 13, 14 and 17: every torch parameter is
 * erasable (by name and by the default list), and Lethe's per-sample gradients equal torch
 * autograd's (computed in float64) to {@value #REL_TOL} relative per parameter tensor and sample
 * (Lethe runs in float32).
 */
class TorchGradientTest {
  static final double REL_TOL = 1e-4;
  /** The families Lethe differentiates whole (see README, "Models known to work"). */
  static final List<String> FAMILIES = List.of("resnet", "mobilenet_v2", "mobilenet_v3", "gelu_mlp");

  static Stream<Arguments> cases() {
    return FAMILIES.stream().flatMap(f -> Stream.of(13, 14, 17).map(o -> Arguments.of(f, o)));
  }

  @ParameterizedTest(name = "{0} opset {1}")
  @MethodSource("cases")
  void gradientsEqualTorchAutograd(String family, int opset) {
    TorchFixtures.Reference ref = TorchFixtures.reference(family);
    var model = TorchFixtures.model(family, opset);
    ModelGraph byDefault = ModelGraph.inspect(TorchFixtures.modelBytes(family, opset), "logits", List.of());
    assertEquals(new HashSet<>(ref.parameters()), new HashSet<>(byDefault.parameterNames()),
        "the default erasable list is every torch parameter");
    compare(model, "logits", ref);
  }

  /** Builds the gradient graph over every reference parameter and compares with torch. */
  static void compare(ai.onnx.proto.OnnxMl.ModelProto model, String logits, TorchFixtures.Reference ref) {
    List<String> params = ref.parameters();
    GradientGraph graph = GradientGraph.build(model, logits, LossFunction.SOFTMAX_CROSS_ENTROPY, params, 0);
    GradientResult r;
    try (GradientEngine engine = new GradientEngine(graph)) {
      r = engine.compute(ref.samples(), GradCheck.direct(GradCheck.initialValues(model, params)));
    }
    int n = ref.samples().size();
    for (int s = 0; s < n; s++) {
      assertEquals(ref.losses()[s], r.losses()[s], 1e-5 + 1e-5 * Math.abs(ref.losses()[s]), "loss of sample " + s);
    }
    long offset = 0;
    for (String p : params) {
      float[] want = ref.gradients().get(p);
      int size = want.length / n;
      for (int s = 0; s < n; s++) {
        double diff = 0;
        double norm = 0;
        for (int k = 0; k < size; k++) {
          double w = want[s * size + k];
          double got = r.gradients()[(int) (s * r.parameterCount() + offset + k)];
          diff += (w - got) * (w - got);
          norm += w * w;
        }
        double rel = Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-6);
        assertTrue(rel <= REL_TOL, p + " sample " + s + ": relative error " + rel + " (|g| = " + Math.sqrt(norm) + ")");
      }
      offset += size;
    }
  }
}
