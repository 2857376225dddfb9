package dev.lethe.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lethe.onnx.ModelGraph;
import dev.lethe.onnx.TorchFixtures;
import java.util.HashSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The ONNX exports beside the TorchScript fixtures are usable by the ONNX backend: every torch
 * parameter is an erasable initializer and Lethe's per-sample gradients equal the script's torch
 * autograd references ({@value TorchFixtures#REL_TOL} relative per tensor and sample), so a test
 * comparing the two backends starts from fixtures known good on one of them.
 */
class TorchScriptOnnxFixtureTest {
  static java.util.List<String> families() {
    return TorchScriptFixtures.FAMILIES;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("families")
  void onnxExportMatchesTorchAutograd(String family) {
    TorchFixtures.Reference ref = TorchScriptFixtures.onnxReference(family);
    ModelGraph byDefault = ModelGraph.inspect(TorchScriptFixtures.bytes(family + ".onnx"), "logits",
        java.util.List.of());
    assertEquals(new HashSet<>(ref.parameters()), new HashSet<>(byDefault.parameterNames()),
        "the default erasable list is every torch parameter");
    TorchFixtures.assertMatchesTorch(TorchScriptFixtures.onnxModel(family), "logits", ref);
  }
}
