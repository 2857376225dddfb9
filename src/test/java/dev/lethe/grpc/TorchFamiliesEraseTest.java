package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.GradientsRequest;
import dev.lethe.api.v1.GradientsResponse;
import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.InputInfo;
import dev.lethe.api.v1.Loss;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelSpec;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.Samples;
import dev.lethe.onnx.TorchFixtures;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue #12's acceptance for the PyTorch families Lethe differentiates whole: each export at
 * opsets 13, 14 and 17 registers through the server with the default erasable list (every torch
 * parameter), builds a Fisher (block size 256, λ = 10: an untrained model's curvature is small) from
 * 12 samples and erases two of them.
 */
class TorchFamiliesEraseTest {
  private static final int N = 12;
  /** The token vocabulary of the text fixtures (make_torch_fixtures.py). */
  private static final int VOCAB = 20;
  @TempDir Path dir;

  static Stream<Arguments> cases() {
    return Stream.of("resnet", "mobilenet_v2", "mobilenet_v3", "gelu_mlp", "transformer", "lstm", "gru")
        .flatMap(f -> Stream.of(13, 14, 17).map(o -> Arguments.of(f, o)));
  }

  @ParameterizedTest(name = "{0} opset {1}")
  @MethodSource("cases")
  void registersBuildsFisherAndErases(String family, int opset) throws Exception {
    try (ServerHarness h = new ServerHarness(dir, 1 << 24)) {
      ModelInfo info = h.put(ModelSpec.newBuilder().setName(family).setLoss(Loss.SOFTMAX_CROSS_ENTROPY)
          .setTrainSize(N).setL2(1e-3).setDampening(10).setBlockSize(256).build(), TorchFixtures.modelBytes(family, opset));
      assertEquals(new HashSet<>(TorchFixtures.reference(family, opset).parameters()),
          new HashSet<>(info.getSpec().getErasableParametersList()));
      Samples train = samples(info, new Random(opset));
      var last = EraseRpc.buildFisher(h.async, family, train);
      assertEquals(last.getBlocksTotal(), last.getBlocksDone());
      EraseResponse r = h.blocking.erase(EraseRpc.erase(family, "r1", train, 0, 1));
      assertEquals(2, r.getVersion());
      assertEquals(2, r.getErased());
      assertTrue(Double.isFinite(r.getUpdateNorm()) && r.getUpdateNorm() > 0, r.toString());
    }
  }

  static Stream<Arguments> dynamicCases() {
    return Stream.of("text_cnn", "gru_dynamic", "transformer_dynamic")
        .flatMap(f -> Stream.of(13, 14, 17).map(o -> Arguments.of(f, o)));
  }

  /**
   * A dynamic sequence length through the server: InputInfo reports -1 for it; the Gradients RPC
   * equals torch autograd at two lengths; a Fisher is built from two messages of different
   * lengths (each message one length); samples of each length are erased. The model is
   * registered with l2 = 0 so that the Gradients RPC is torch's loss gradient as it stands.
   */
  @ParameterizedTest(name = "{0} opset {1}")
  @MethodSource("dynamicCases")
  void dynamicLengthRegistersBuildsFisherAndErases(String family, int opset) throws Exception {
    try (ServerHarness h = new ServerHarness(dir, 1 << 24)) {
      ModelInfo info = h.put(ModelSpec.newBuilder().setName(family).setLoss(Loss.SOFTMAX_CROSS_ENTROPY)
          .setTrainSize(2 * N).setDampening(10).setBlockSize(256).build(), TorchFixtures.modelBytes(family, opset));
      for (InputInfo in : info.getInputsList()) {
        assertEquals(List.of(-1L, -1L), in.getDimsList(), in.getName());
      }
      for (String key : List.of("ref", "ref2")) {
        TorchFixtures.Reference ref = TorchFixtures.reference(family, opset, key);
        GradientsResponse g = h.blocking.gradients(GradientsRequest.newBuilder().setName(family)
            .setSamples(SampleMessages.batch(ref.samples())).setFull(true).build());
        assertGradientsEqual(info.getSpec().getErasableParametersList(), ref, g.getGradients().getFloatDataList());
      }
      Samples short5 = samples(info, new Random(opset), 5);
      Samples long9 = samples(info, new Random(opset + 1), 9);
      var last = EraseRpc.buildFisher(h.async, family, short5, long9);
      assertEquals(last.getBlocksTotal(), last.getBlocksDone());
      assertEquals(2 * N, last.getSamplesSeen());
      EraseResponse r = h.blocking.erase(EraseRpc.erase(family, "r1", short5, 0, 1));
      assertEquals(2, r.getVersion());
      assertTrue(Double.isFinite(r.getUpdateNorm()) && r.getUpdateNorm() > 0, r.toString());
      r = h.blocking.erase(EraseRpc.erase(family, "r2", long9, 3));
      assertEquals(3, r.getVersion());
      assertEquals(1, r.getErased());
      assertTrue(Double.isFinite(r.getUpdateNorm()) && r.getUpdateNorm() > 0, r.toString());
    }
  }

  /**
   * tokens and mask share the symbolic 'S': an Erase whose mask is shorter than its tokens is
   * INVALID_ARGUMENT naming samples.inputs[mask] and the dimension; nothing changed. After a
   * restart the stored model erases samples of a new length.
   */
  @org.junit.jupiter.api.Test
  void mixedLengthsInOneRequestAreRefused() throws Exception {
    ModelInfo info;
    try (ServerHarness h = new ServerHarness(dir, 1 << 24)) {
      info = h.put(ModelSpec.newBuilder().setName("gru").setLoss(Loss.SOFTMAX_CROSS_ENTROPY)
          .setTrainSize(N).setDampening(10).setBlockSize(256).build(), TorchFixtures.modelBytes("gru_dynamic", 17));
      Samples train = samples(info, new Random(3), 6);
      EraseRpc.buildFisher(h.async, "gru", train);
      Map<String, DenseTensor> inputs = new java.util.HashMap<>(train.inputs());
      inputs.put("mask", DenseTensor.ofFloats(new long[] {N, 4}, new float[N * 4]));
      Samples mixed = new Samples(train.ids(), inputs, train.labels());
      var before = h.blocking.listModels(ListModelsRequest.getDefaultInstance());
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
          () -> h.blocking.erase(EraseRpc.erase("gru", "mixed", mixed, 0, 1)));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
      assertEquals("samples.inputs[mask]: dimension 1 ('S') is 4 but samples.inputs[tokens] dimension 1 is 6;"
          + " the samples of one request share the model's symbolic dimensions", e.getStatus().getDescription());
      e = assertThrows(StatusRuntimeException.class, () -> h.blocking.gradients(GradientsRequest.newBuilder()
          .setName("gru").setSamples(SampleMessages.batch(mixed)).build()));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
      assertTrue(e.getStatus().getDescription().startsWith("samples.inputs[mask]: dimension 1"),
          e.getStatus().getDescription());
      assertEquals(before, h.blocking.listModels(ListModelsRequest.getDefaultInstance()));
      // the request id was not spent: the same id with matching lengths erases
      assertEquals(2, h.blocking.erase(EraseRpc.erase("gru", "mixed", train, 0, 1)).getVersion());
      info = h.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModels(0);
    }
    // reopened: the stored model's engine is rebuilt at start and takes a length it never saw
    try (ServerHarness h = new ServerHarness(dir, 1 << 24)) {
      Samples other = samples(info, new Random(4), 7);
      EraseResponse r = h.blocking.erase(EraseRpc.erase("gru", "after-restart", other, 2));
      assertEquals(3, r.getVersion());
      assertTrue(Double.isFinite(r.getUpdateNorm()) && r.getUpdateNorm() > 0, r.toString());
    }
  }

  /** Per parameter (spec order, sizes from the reference) and sample, within TorchFixtures.REL_TOL. */
  private static void assertGradientsEqual(List<String> order, TorchFixtures.Reference ref, List<Float> got) {
    int n = ref.samples().size();
    long p = got.size() / n;
    long offset = 0;
    for (String name : order) {
      float[] want = ref.gradients().get(name);
      int size = want.length / n;
      for (int s = 0; s < n; s++) {
        double diff = 0;
        double norm = 0;
        for (int k = 0; k < size; k++) {
          double w = want[s * size + k];
          double v = got.get((int) (s * p + offset + k));
          diff += (w - v) * (w - v);
          norm += w * w;
        }
        double rel = Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-6);
        assertTrue(rel <= TorchFixtures.REL_TOL, name + " sample " + s + ": relative error " + rel);
      }
      offset += size;
    }
    assertEquals(p, offset);
  }

  /** N samples of the model's inputs (Gaussian floats, token ids) with labels over its classes. */
  private static Samples samples(ModelInfo info, Random rnd) {
    return samples(info, rnd, -1);
  }

  /** As {@link #samples(ModelInfo, Random)} with {@code length} for every symbolic dimension after the batch. */
  private static Samples samples(ModelInfo info, Random rnd, long length) {
    return EraseRpc.randomSamples(info, rnd, N, VOCAB, length);
  }
}
