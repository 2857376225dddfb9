package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.Loss;
import dev.lethe.api.v1.ModelFormat;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelSpec;
import dev.lethe.torch.DeclaredFixtures;
import dev.lethe.torch.TorchScriptFixtures;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PutModel's refusals for the TorchScript format, through a real server: each is
 * INVALID_ARGUMENT with a message naming the field, and nothing is registered. Also the output
 * selection that is not a refusal: a tuple's element by position, a dict's entry by key.
 */
class TorchScriptRefusalsTest {
  @TempDir Path dir;
  ServerHarness h;

  @BeforeEach
  void start() throws Exception {
    h = new ServerHarness(dir, 1 << 24);
  }

  @AfterEach
  void stop() throws Exception {
    h.close();
  }

  private static ModelSpec.Builder spec() {
    return ModelSpec.newBuilder().setName("m").setLoss(Loss.SOFTMAX_CROSS_ENTROPY).setTrainSize(10);
  }

  private void refused(ModelSpec spec, byte[] file, String field, String... words) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> h.put(spec, file));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.getStatus().toString());
    String msg = e.getStatus().getDescription();
    assertTrue(msg.startsWith(field + ": "), msg);
    for (String w : words) {
      assertTrue(msg.contains(w), "'" + w + "' in: " + msg);
    }
    assertEquals(0, h.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsCount(),
        "nothing registered");
  }

  @Test
  void aFileThatIsNotTorchScriptIsRefused() {
    // torch.save of a state dict: a zip pickle without TorchScript code
    refused(spec().setFormat(ModelFormat.TORCHSCRIPT).build(),
        TorchScriptFixtures.bytes("state_dict.pth"), "chunk", "torch.save");
    refused(spec().setFormat(ModelFormat.TORCHSCRIPT).build(), new byte[] {1, 2, 3, 4, 5},
        "spec.format", "not a zip archive");
  }

  @Test
  void anOnnxFileDeclaredTorchScriptAndViceVersaAreRefused() {
    refused(spec().setFormat(ModelFormat.TORCHSCRIPT).build(), TorchScriptFixtures.bytes("mlp.onnx"),
        "spec.format", "ONNX");
    refused(spec().setFormat(ModelFormat.ONNX).build(), DeclaredFixtures.archive("mlp"),
        "spec.format", "TORCHSCRIPT");
  }

  @Test
  void anArchiveWithoutItsInputsDeclaredIsRefusedWithHowToDeclareThem() {
    refused(spec().build(), TorchScriptFixtures.bytes("mlp.pt"), "chunk", "lethe.json", "_extra_files");
  }

  @Test
  void aParameterNameThatDoesNotExistIsRefusedListingTheCandidates() {
    refused(spec().addErasableParameters("fc9.weight").build(), DeclaredFixtures.archive("mlp"),
        "spec.erasable_parameters", "fc9.weight", "fc1.weight", "fc3.bias");
    refused(spec().addErasableParameters("bn1.running_mean").build(), DeclaredFixtures.archive("cnn_bn"),
        "spec.erasable_parameters", "buffer");
    refused(spec().addErasableParameters("spare").build(), DeclaredFixtures.archive("unused"),
        "spec.erasable_parameters", "spare");
  }

  @Test
  void logitsThatDoNotFitTheLossAreRefused() {
    refused(spec().setLogitsOutput("nope").build(), DeclaredFixtures.archive("mlp"),
        "spec.logits_output", "nope");
    refused(spec().build(), DeclaredFixtures.archive("one_logit"), "spec.loss", "at least 2 logits");
    refused(spec().build(), DeclaredFixtures.archive("int_out"), "spec.logits_output", "floating");
    refused(spec().build(), DeclaredFixtures.archive("tuple_out"), "spec.logits_output", "2 outputs");
  }

  @Test
  void theLogitsAreATuplesElementByPositionOrADictsEntryByKey() {
    ModelInfo t = h.put(spec().setName("t").setLogitsOutput("1").build(), DeclaredFixtures.archive("tuple_out"));
    assertEquals(List.of(3L), t.getOutputDimsList());
    ModelInfo d = h.put(spec().setName("d").setLogitsOutput("logits").build(), DeclaredFixtures.archive("dict_out"));
    assertEquals(List.of(3L), d.getOutputDimsList());
    assertEquals(List.of("body.weight", "body.bias", "head.weight", "head.bias"),
        d.getSpec().getErasableParametersList());
    // the declared format is kept, and said to be the spec's
    ModelInfo m = h.put(spec().setName("m2").setFormat(ModelFormat.TORCHSCRIPT).build(),
        DeclaredFixtures.archive("mlp"));
    assertEquals(ModelFormat.TORCHSCRIPT, m.getFormat());
    assertEquals("", m.getFormatSource());
  }
}
