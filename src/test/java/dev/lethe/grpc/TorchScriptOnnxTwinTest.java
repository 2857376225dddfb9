package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.EraseStep;
import dev.lethe.api.v1.FisherKind;
import dev.lethe.api.v1.GradientsRequest;
import dev.lethe.api.v1.ModelFormat;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelSpec;
import dev.lethe.core.Batches;
import dev.lethe.core.Samples;
import dev.lethe.torch.DeclaredFixtures;
import dev.lethe.torch.TorchArchive;
import dev.lethe.torch.TorchScriptFixtures;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The same network through both backends: a fixture's TorchScript archive (DJL autograd) and its
 * ONNX export (Lethe's backward graph in ONNX Runtime), registered with the same spec and the
 * same erasable list (the export keeps torch's names and layouts for these families), give the
 * same per-sample gradients and the same Erase update with both steps, to {@value #REL_TOL}
 * relative (both run in float32).
 */
class TorchScriptOnnxTwinTest {
  static final double REL_TOL = 1e-5;
  @TempDir Path dir;

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"mlp", "cnn_bn"})
  void sameGradientsAndSameEraseUpdate(String family) throws Exception {
    var ref = TorchScriptFixtures.reference(family);
    List<String> names = DeclaredFixtures.parameterNames(ref);
    try (ServerHarness h = new ServerHarness(dir, 1 << 24)) {
      ModelSpec.Builder spec = TorchScriptEndToEndTest.spec(family).addAllErasableParameters(names);
      ModelInfo torch = h.put(spec.setName("pt").setFormat(ModelFormat.TORCHSCRIPT).build(),
          DeclaredFixtures.archive(family));
      ModelInfo onnx = h.put(spec.setName("onnx").setFormat(ModelFormat.ONNX).build(),
          TorchScriptFixtures.bytes(family + ".onnx"));
      assertEquals(onnx.getSpec().getErasableParametersList(), torch.getSpec().getErasableParametersList());
      assertEquals(onnx.getParameterCount(), torch.getParameterCount());
      assertEquals(onnx.getOutputDimsList(), torch.getOutputDimsList());

      Samples train = TorchScriptEndToEndTest.samples(torch, new Random(11));
      float[] gt = gradients(h, "pt", train);
      float[] go = gradients(h, "onnx", train);
      int p = (int) torch.getParameterCount();
      for (int i = 0; i < train.size(); i++) {
        double rel = relative(go, gt, i * p, p);
        assertTrue(rel <= REL_TOL, "sample " + i + ": gradients differ by " + rel + " relative");
      }

      float[] start = weights(h, "onnx", 1, names);
      TorchScriptEndToEndTest.buildFisher(h, "pt", train, FisherKind.EMPIRICAL);
      TorchScriptEndToEndTest.buildFisher(h, "onnx", train, FisherKind.EMPIRICAL);
      long version = 1;
      int row = 0;
      for (EraseStep step : List.of(EraseStep.LEAVE_OUT, EraseStep.FULL_FISHER)) {
        int[] rows = {row++, row++};
        for (String m : List.of("pt", "onnx")) {
          EraseResponse r = h.blocking.erase(EraseRequest.newBuilder().setName(m)
              .setRequestId("r" + step).setStep(step)
              .setSamples(SampleMessages.batch(Batches.rows(train, rows))).build());
          assertEquals(step, r.getStep());
        }
        version++;
        float[] before = version == 2 ? start : weights(h, "onnx", version - 1, names);
        float[] dt = delta(weights(h, "pt", version, names), before);
        float[] dn = delta(weights(h, "onnx", version, names), before);
        double rel = relative(dn, dt, 0, dn.length);
        assertTrue(rel <= REL_TOL, step + ": updates differ by " + rel + " relative");
      }
    }
  }

  private static float[] gradients(ServerHarness h, String name, Samples s) {
    return SampleMessages.tensor("gradients", h.blocking.gradients(GradientsRequest.newBuilder()
        .setName(name).setSamples(SampleMessages.batch(s)).setFull(true).build()).getGradients()).floats();
  }

  /** The served file's erasable values (spec order): TorchArchive's or the ONNX initializers. */
  static float[] weights(ServerHarness h, String name, long version, List<String> names) throws Exception {
    byte[] file = EraseRpc.checkedDownload(h.blocking, name, version, 0).bytes();
    if (name.equals("pt")) {
      return TorchScriptEndToEndTest.floats(TorchArchive.read(file).weights(names));
    }
    var model = ai.onnx.proto.OnnxMl.ModelProto.parseFrom(file);
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    for (String n : names) {
      var t = model.getGraph().getInitializerList().stream().filter(i -> i.getName().equals(n))
          .findFirst().orElseThrow();
      out.writeBytes(t.getRawData().toByteArray());
    }
    return TorchScriptEndToEndTest.floats(out.toByteArray());
  }

  private static float[] delta(float[] after, float[] before) {
    float[] d = new float[after.length];
    for (int i = 0; i < d.length; i++) {
      d[i] = after[i] - before[i];
    }
    return d;
  }

  /** |a - b| / |a| over [off, off + len). */
  private static double relative(float[] a, float[] b, int off, int len) {
    double diff = 0;
    double norm = 0;
    for (int k = off; k < off + len; k++) {
      diff += ((double) a[k] - b[k]) * ((double) a[k] - b[k]);
      norm += (double) a[k] * a[k];
    }
    assertTrue(norm > 0, "a nonzero reference");
    return Math.sqrt(diff / norm);
  }

  static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
}
