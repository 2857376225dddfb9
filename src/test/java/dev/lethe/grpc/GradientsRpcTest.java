package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.GradientsRequest;
import dev.lethe.api.v1.GradientsResponse;
import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.ModelSpec;
import dev.lethe.core.Samples;
import dev.lethe.onnx.OnnxBuilder;
import dev.lethe.testing.Fixtures;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Gradients RPC against a hand-written backward pass of the fixture MLP. */
class GradientsRpcTest {
  /** float32 forward/backward in ORT against double arithmetic here. */
  private static final double TOLERANCE = 2e-5;
  private static final double L2 = 0.01;
  @TempDir Path dir;
  private ServerHarness lethe;

  @BeforeEach
  void start() throws Exception {
    lethe = new ServerHarness(dir, 1 << 20);
  }

  @AfterEach
  void stop() throws Exception {
    lethe.close();
  }

  /** Loss and gradient (W1, b1, W2, b2 flattened) of one sample, with the L2 term. */
  static double[] manualGradient(Fixtures.Mlp m, float[] x, int y, double[] lossOut) {
    int in = Fixtures.IN;
    int hid = Fixtures.HIDDEN;
    int c = Fixtures.CLASSES;
    double[] z1 = new double[hid];
    double[] h = new double[hid];
    for (int j = 0; j < hid; j++) {
      z1[j] = m.b1()[j];
      for (int i = 0; i < in; i++) {
        z1[j] += m.w1()[j * in + i] * x[i];
      }
      h[j] = Math.max(0, z1[j]);
    }
    double[] z = m.logits(x);
    double max = Math.max(z[0], Math.max(z[1], z[2]));
    double sum = 0;
    for (double v : z) {
      sum += Math.exp(v - max);
    }
    double[] dz = new double[c];
    for (int k = 0; k < c; k++) {
      dz[k] = Math.exp(z[k] - max) / sum - (k == y ? 1 : 0);
    }
    double sq = 0;
    double[] g = new double[hid * in + hid + c * hid + c];
    float[][] params = {m.w1(), m.b1(), m.w2(), m.b2()};
    int off = 0;
    for (float[] p : params) {
      for (int i = 0; i < p.length; i++) {
        g[off + i] = L2 * p[i];
        sq += (double) p[i] * p[i];
      }
      off += p.length;
    }
    lossOut[0] = max + Math.log(sum) - z[y] + L2 / 2 * sq;
    int w2Off = hid * in + hid;
    int b2Off = w2Off + c * hid;
    double[] dh = new double[hid];
    for (int k = 0; k < c; k++) {
      g[b2Off + k] += dz[k];
      for (int j = 0; j < hid; j++) {
        g[w2Off + k * hid + j] += dz[k] * h[j];
        dh[j] += m.w2()[k * hid + j] * dz[k];
      }
    }
    for (int j = 0; j < hid; j++) {
      double dz1 = z1[j] > 0 ? dh[j] : 0;
      g[hid * in + j] += dz1;
      for (int i = 0; i < in; i++) {
        g[j * in + i] += dz1 * x[i];
      }
    }
    return g;
  }

  @Test
  void fullGradientsAndNormsMatchAHandWrittenBackwardPass() {
    Fixtures.Mlp mlp = Fixtures.mlp(31);
    lethe.put(ModelMessages.spec(Fixtures.spec("mlp")), mlp.onnx()); // spec l2 = 0.01
    Samples batch = Fixtures.batch(32, 6);
    GradientsResponse full = lethe.blocking.gradients(GradientsRequest.newBuilder()
        .setName("mlp").setSamples(SampleMessages.batch(batch)).setFull(true).build());
    GradientsResponse norms = lethe.blocking.gradients(GradientsRequest.newBuilder()
        .setName("mlp").setSamples(SampleMessages.batch(batch)).build());
    assertEquals(java.util.List.of(6L, 27L), full.getGradients().getDimsList());
    assertFalse(norms.hasGradients());
    for (int i = 0; i < 6; i++) {
      float[] x = java.util.Arrays.copyOfRange(batch.inputs().get("x").floats(), i * 4, i * 4 + 4);
      double[] loss = new double[1];
      double[] g = manualGradient(mlp, x, (int) batch.labels().longs()[i], loss);
      double norm = 0;
      for (int j = 0; j < 27; j++) {
        assertEquals(g[j], full.getGradients().getFloatData(i * 27 + j), TOLERANCE, "sample " + i + " entry " + j);
        norm += g[j] * g[j];
      }
      assertEquals(loss[0], full.getLosses(i), TOLERANCE);
      assertEquals(Math.sqrt(norm), norms.getNorms(i), TOLERANCE);
      assertEquals(norms.getNorms(i), full.getNorms(i), TOLERANCE);
    }
  }

  @Test
  void errorsHaveExactCodes() {
    lethe.put(ModelMessages.spec(Fixtures.spec("mlp")), Fixtures.mlp(1).onnx());
    Samples batch = Fixtures.batch(2, 3);
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () ->
        lethe.blocking.gradients(GradientsRequest.newBuilder().setName("nope")
            .setSamples(SampleMessages.batch(batch)).build()));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
    e = assertThrows(StatusRuntimeException.class, () ->
        lethe.blocking.gradients(GradientsRequest.newBuilder().setName("mlp")
            .setSamples(SampleMessages.batch(batch).toBuilder().clearLabels()).build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("samples.labels"), e.getStatus().getDescription());
    e = assertThrows(StatusRuntimeException.class, () ->
        lethe.blocking.gradients(GradientsRequest.newBuilder().setName("mlp").setVersion(9)
            .setSamples(SampleMessages.batch(batch)).build()));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
  }

  @Test
  void unsupportedOpOnTheDifferentiatedPathIsRefusedAtPutModel() {
    byte[] withTopK = new OnnxBuilder("topk")
        .floatInput("x", -1, 4)
        .initializer("W", new float[16], 4, 4)
        .int64Initializer("k", new long[] {3}, 1)
        .node("Gemm", new String[] {"x", "W"}, new String[] {"h"}, "transB", 1L)
        .node("TopK", new String[] {"h", "k"}, new String[] {"logits", "idx"}, "axis", 1L)
        .floatOutput("logits", -1, 3)
        .toBytes();
    ModelSpec spec = ModelMessages.spec(Fixtures.spec("topk").withLogitsOutput("logits"));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> lethe.put(spec, withTopK));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    String message = e.getStatus().getDescription();
    assertTrue(message.contains("TopK") && message.contains("Gemm") && message.contains("node"), message);
    assertEquals(0, lethe.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsCount());
  }
}
