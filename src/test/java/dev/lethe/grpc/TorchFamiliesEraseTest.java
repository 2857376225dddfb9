package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.InputInfo;
import dev.lethe.api.v1.Loss;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelSpec;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.Samples;
import dev.lethe.onnx.TorchFixtures;
import java.nio.file.Path;
import java.util.ArrayList;
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

  /** N samples of the model's inputs (Gaussian floats, token ids) with labels over its classes. */
  private static Samples samples(ModelInfo info, Random rnd) {
    Map<String, DenseTensor> inputs = new java.util.HashMap<>();
    for (InputInfo in : info.getInputsList()) {
      long[] dims = in.getDimsList().stream().mapToLong(Long::longValue).toArray();
      dims[0] = N;
      int count = 1;
      for (long d : dims) {
        count *= (int) d;
      }
      if (in.getElementType().equals("int64")) {
        long[] tokens = new long[count];
        for (int i = 0; i < count; i++) {
          tokens[i] = rnd.nextInt(VOCAB);
        }
        inputs.put(in.getName(), DenseTensor.ofLongs(dims, tokens));
        continue;
      }
      float[] v = new float[count];
      for (int i = 0; i < count; i++) {
        v[i] = (float) rnd.nextGaussian();
      }
      inputs.put(in.getName(), DenseTensor.ofFloats(dims, v));
    }
    long classes = info.getOutputDims(0);
    long[] y = new long[N];
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < N; i++) {
      y[i] = rnd.nextInt((int) classes);
      ids.add("s" + i);
    }
    return new Samples(ids, inputs, DenseTensor.ofLongs(new long[] {N}, y));
  }
}
