package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.EraseStep;
import dev.lethe.api.v1.EvaluateRequest;
import dev.lethe.api.v1.FisherKind;
import dev.lethe.api.v1.FisherOptions;
import dev.lethe.api.v1.GradientsRequest;
import dev.lethe.api.v1.GradientsResponse;
import dev.lethe.api.v1.Loss;
import dev.lethe.api.v1.ModelFormat;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelSpec;
import dev.lethe.core.Batches;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import dev.lethe.torch.DeclaredFixtures;
import dev.lethe.torch.TorchArchive;
import dev.lethe.torch.TorchGradientsAccess;
import dev.lethe.torch.TorchScriptFixtures;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * TorchScript models end to end through a real server (in-process gRPC, RocksDB under @TempDir,
 * DJL's PyTorch engine): each fixture family registers (format detected from the archive),
 * version 1 is served bit for bit as uploaded, Gradients equal torch autograd's (with the L2
 * term), a Fisher of every kind (EMPIRICAL, TRUE, MONTE_CARLO) is built and erases run with both
 * steps (LEAVE_OUT, FULL_FISHER); the served erased version reloads in DJL with the erased weights
 * (its forward gives the server's evaluation) and differs from the upload only in them.
 */
class TorchScriptEndToEndTest {
  static final int N = 12;
  static final int VOCAB = 20; // the token vocabulary of the text fixtures
  static final double MU = 1e-3;
  @TempDir Path dir;

  static List<String> families() {
    return TorchScriptFixtures.FAMILIES;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("families")
  void registersServesEveryFisherKindAndBothEraseSteps(String family) throws Exception {
    var ref = TorchScriptFixtures.reference(family);
    byte[] archive = DeclaredFixtures.archive(family);
    try (ServerHarness h = new ServerHarness(dir, 1 << 24)) {
      ModelInfo info = h.put(spec(family).build(), archive); // format left unspecified: detected
      assertEquals(ModelFormat.TORCHSCRIPT, info.getFormat());
      assertEquals(ModelFormat.TORCHSCRIPT, info.getSpec().getFormat());
      assertEquals("detected: a TorchScript zip archive", info.getFormatSource());
      assertEquals(DeclaredFixtures.parameterNames(ref), info.getSpec().getErasableParametersList(),
          "default erasable list: every parameter, state_dict names, module order");
      assertEquals(List.of(3L), info.getOutputDimsList());
      assertArrayEquals(archive, EraseRpc.checkedDownload(h.blocking, family, 1, 4096).bytes(),
          "version 1 is served bit for bit as uploaded");

      GradientsResponse g = h.blocking.gradients(GradientsRequest.newBuilder().setName(family)
          .setSamples(SampleMessages.batch(ref.samples())).setFull(true).build());
      DeclaredFixtures.assertMatches(family, ref,
          SampleMessages.tensor("gradients", g.getGradients()).floats(), DeclaredFixtures.flatParameters(ref), MU);

      Samples train = samples(info, new Random(7));
      long version = 1;
      int row = 0;
      for (FisherKind kind : List.of(FisherKind.EMPIRICAL, FisherKind.TRUE, FisherKind.MONTE_CARLO)) {
        // the samples still represented: the version's train_size
        BuildFisherProgress last = buildFisher(h, family, Batches.range(train, row, N), kind);
        assertEquals(last.getBlocksTotal(), last.getBlocksDone(), kind.toString());
        for (EraseStep step : List.of(EraseStep.LEAVE_OUT, EraseStep.FULL_FISHER)) {
          EraseResponse r = h.blocking.erase(EraseRequest.newBuilder()
              .setName(family).setRequestId(kind + "-" + step).setStep(step)
              .setSamples(SampleMessages.batch(Batches.rows(train, new int[] {row++}))).build());
          assertEquals(++version, r.getVersion(), kind + " " + step);
          assertEquals(step, r.getStep(), r.toString());
          assertTrue(Double.isFinite(r.getUpdateNorm()) && r.getUpdateNorm() > 0, r.toString());
        }
      }

      // The served erased version: the upload with the erasable storages replaced.
      byte[] served = EraseRpc.checkedDownload(h.blocking, family, version, 0).bytes();
      assertEquals(archive.length, served.length);
      List<String> names = DeclaredFixtures.parameterNames(ref);
      float[] before = floats(TorchArchive.read(archive).weights(names));
      float[] after = floats(TorchArchive.read(served).weights(names));
      assertTrue(!java.util.Arrays.equals(before, after), "the erase changed the weights");
      // DJL loads it; its own weights give the losses the server evaluates at that version.
      Samples labelled = Batches.range(train, 0, N);
      var eval = h.blocking.evaluate(EvaluateRequest.newBuilder().setName(family)
          .setSamples(SampleMessages.batch(labelled)).build());
      assertEquals(version, eval.getVersion());
      double[] losses = TorchGradientsAccess.lossesOfFile(served, labelled, after);
      for (int i = 0; i < N; i++) {
        assertEquals(eval.getLosses(i), losses[i], 1e-5 * Math.max(1, Math.abs(losses[i])), "sample " + i);
      }
    }
  }

  static ModelSpec.Builder spec(String name) {
    return ModelSpec.newBuilder().setName(name).setLoss(Loss.SOFTMAX_CROSS_ENTROPY)
        .setTrainSize(N).setL2(MU).setDampening(10).setBlockSize(256);
  }

  static float[] floats(byte[] le) {
    float[] v = new float[le.length / 4];
    java.nio.ByteBuffer.wrap(le).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
    return v;
  }

  /** Streams BuildFisher of {@code kind} (options, then the batch in two messages). */
  static BuildFisherProgress buildFisher(ServerHarness h, String name, Samples train, FisherKind kind)
      throws Exception {
    int half = train.size() / 2;
    return EraseRpc.buildFisher(h.async, FisherOptions.newBuilder().setName(name)
        .setFisherKind(kind).setSeed(3).build(), Batches.range(train, 0, half),
        Batches.range(train, half, train.size()));
  }

  /** N samples of the model's declared inputs (Gaussian floats, token ids), labels over C. */
  static Samples samples(ModelInfo info, Random rnd) {
    return EraseRpc.randomSamples(info, rnd, N, VOCAB, -1);
  }

  static LossFunction loss() {
    return LossFunction.SOFTMAX_CROSS_ENTROPY;
  }
}
