package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.BuildFisherRequest;
import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.EraseStep;
import dev.lethe.api.v1.FisherKind;
import dev.lethe.api.v1.FisherOptions;
import dev.lethe.api.v1.FisherStructure;
import dev.lethe.core.Batches;
import dev.lethe.core.Samples;
import dev.lethe.erase.EraseConfig;
import dev.lethe.onnx.OnnxBuilder;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Erases of an EKFAC model with a layer of 2²⁰ entries or more (960 × 1101: the large-layer
 * path, float32, the gradient kept as factors, the weights' projection θ̃ kept between erases)
 * through the real gRPC server. Sequential erases derive the next version's θ̃ as θ̃ + s·M; the
 * same erases with a restart in between (nothing kept) compute it from the weights. Both must
 * give the same weights (relative difference of the updates ≤ 1e-5), with both steps; the first
 * erase after a build must find θ̃ of the built version (the build's end computed it) and the
 * second of a sequence the derived one, also across a downdate (the EKFAC downdate keeps its
 * parent's eigenbasis), whose leave-out step gives the weights the one without it does. The
 * sequential erases also run on the kept Kronecker parts (KroneckerPartCache, filled by the
 * build's end), the restarted ones on parts read from RocksDB.
 */
class KroneckerLargeEraseTest {
  private static final int N = 30;
  private static final int IN = 1100;
  private static final int HIDDEN = 960;
  private static final int CLASSES = 3;
  private static final int P = HIDDEN * IN + HIDDEN + CLASSES * HIDDEN + CLASSES;
  @TempDir Path dir;
  private final Samples train = Fixtures.batch(5, N, IN);

  private ServerHarness start() throws Exception {
    return new ServerHarness(new ServerConfig("127.0.0.1:0", dir, new StoreConfig(10, 64 << 20),
        64 << 20, false, 5, new EraseConfig(10_000, 100.0, 64 << 20), 1L << 30), s -> {});
  }

  @Test
  void sequentialErasesDeriveTheProjectedWeightsAsARestartComputesThem() throws Exception {
    Samples s1 = Batches.range(train, 0, 3);
    Samples s2 = Batches.range(train, 3, 5);
    List<String> kept = List.of("leave", "full");
    List<String> restarted = List.of("leave-r", "full-r");
    try (ServerHarness h = start()) {
      byte[] onnx = model();
      for (String m : List.of("leave", "full", "leave-r", "full-r", "down")) {
        h.put(ModelMessages.spec(Fixtures.spec(m).withTrainSize(N)), onnx);
        new FisherStreams(h).buildFisher(List.of(
            BuildFisherRequest.newBuilder().setOptions(FisherOptions.newBuilder().setName(m)
                .setFisherKind(FisherKind.TRUE).setStructure(FisherStructure.EKFAC)
                .setSamples(N)).build(),
            BuildFisherRequest.newBuilder().setSamples(SampleMessages.batch(train)).build()));
      }
      for (String m : List.of("leave", "full", "leave-r", "full-r")) {
        erase(h, m, s1);
      }
      assertEquals(4, h.server.fishers().projectedHits(), "each build left θ̃ of its version");
      // the same leave-out step with downdate_fisher: the same weights, and F₋S is kept
      // (its parts written from float32; the next erase reads them)
      h.blocking.erase(EraseRequest.newBuilder().setName("down").setStep(EraseStep.LEAVE_OUT)
          .setDowndateFisher(true).setSamples(SampleMessages.batch(s1)).build());
      assertEquals(N - 3, EraseRpc.info(h.blocking, "down").getFisher().getSamples());
      assertUpdatesClose(weights(h, "leave", 1), weights(h, "leave", 2), weights(h, "down", 2),
          "down");
      // the downdated Fisher keeps its parent's eigenbasis, so θ̃ carries over
      assertTrue(erase(h, "down", s2).getUpdateNorm() > 0);
      assertEquals(6, h.server.fishers().projectedHits());
      // each model keeps θ̃ of the version it erased from (its build's) and of the one it made
      assertEquals(10, h.server.fishers().projectedEntries());
      for (String m : kept) {
        erase(h, m, s2);
      }
      assertEquals(8, h.server.fishers().projectedHits(), "the second erases found θ̃ kept");
      assertEquals(10, h.server.fishers().projectedEntries());
    }
    try (ServerHarness h = start()) {
      assertEquals(0, h.server.fishers().projectedEntries());
      for (String m : restarted) {
        erase(h, m, s2);
      }
      assertEquals(0, h.server.fishers().projectedHits(), "nothing kept over a restart");
      for (int i = 0; i < kept.size(); i++) {
        float[] base = weights(h, kept.get(i), 2);
        assertUpdatesClose(base, weights(h, kept.get(i), 3), weights(h, restarted.get(i), 3),
            kept.get(i));
      }
    }
  }

  private static EraseResponse erase(ServerHarness h, String model, Samples s) {
    EraseStep step = model.startsWith("full") ? EraseStep.FULL_FISHER : EraseStep.LEAVE_OUT;
    EraseResponse r = h.blocking.erase(EraseRequest.newBuilder().setName(model).setStep(step)
        .setSamples(SampleMessages.batch(s)).build());
    assertEquals(step, r.getStep());
    assertTrue(r.getUpdateNorm() > 0 && Double.isFinite(r.getUpdateNorm()), model);
    return r;
  }

  /** |(b − base) − (a − base)| ≤ 1e-5 · |a − base|. */
  private static void assertUpdatesClose(float[] base, float[] a, float[] b, String what) {
    double diff = 0;
    double norm = 0;
    for (int i = 0; i < base.length; i++) {
      double ua = a[i] - base[i];
      double ub = b[i] - base[i];
      diff += (ua - ub) * (ua - ub);
      norm += ua * ua;
    }
    assertTrue(norm > 0, what + ": no update");
    double error = Math.sqrt(diff / norm);
    assertTrue(error <= 1e-5, what + ": relative difference of the updates " + error);
  }

  private static float[] weights(ServerHarness h, String name, long version) throws Exception {
    return EraseRpc.mlpWeights(h.blocking, name, version, P);
  }

  /** x [N, 1100] → Gemm(W1 [960, 1100], b1) → Relu → Gemm(W2, b2) = "logits". */
  private static byte[] model() {
    Random r = new Random(3);
    float[] w1 = Fixtures.random(r, HIDDEN * IN);
    for (int i = 0; i < w1.length; i++) {
      w1[i] *= (float) Math.sqrt(2.0 / IN);
    }
    return new OnnxBuilder("wide")
        .floatInput("x", -1, IN)
        .initializer("W1", w1, HIDDEN, IN)
        .initializer("b1", Fixtures.random(r, HIDDEN), HIDDEN)
        .initializer("W2", Fixtures.random(r, CLASSES * HIDDEN), CLASSES, HIDDEN)
        .initializer("b2", Fixtures.random(r, CLASSES), CLASSES)
        .node("Gemm", new String[] {"x", "W1", "b1"}, new String[] {"h"}, "transB", 1L)
        .node("Relu", "hr", "h")
        .node("Gemm", new String[] {"hr", "W2", "b2"}, new String[] {"logits"}, "transB", 1L)
        .floatOutput("logits", -1, CLASSES)
        .toBytes();
  }
}
