package dev.lethe.fisher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import dev.lethe.core.Batches;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;
import dev.lethe.onnx.OnnxBuilder;
import dev.lethe.storage.LetheDb;
import dev.lethe.store.ModelStore;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The leave-out step of an EMPIRICAL EKFAC Fisher from the version it was built at reuses the
 * erase's gradient pass as S's rows, and a large layer (960 × 1101 ≥ 2²⁰ entries, the float32
 * path) projects them once for both its squares and its solve. The step must equal the one
 * that makes S's rows again at the Fisher's weights and projects them twice (a gradient sum
 * not tied to the Fisher's version), to a relative 1e-6 (the same float32 products).
 */
class KroneckerSharedRowsTest {
  private static final int IN = 1100;
  private static final int H = 960;
  private static final int C = 3;
  private static final int N = 30;
  @TempDir Path dir;

  @Test
  void theSharedProjectionGivesTheStepOfRowsMadeAgain() {
    Random random = new Random(4);
    byte[] onnx = new OnnxBuilder("wide").floatInput("x", -1, IN)
        .initializer("W1", Fixtures.random(random, H * IN), H, IN)
        .initializer("b1", Fixtures.random(random, H), H)
        .initializer("W2", Fixtures.random(random, H * C), H, C)
        .node("Gemm", new String[] {"x", "W1", "b1"}, new String[] {"h"}, "transB", 1L)
        .node("Relu", "hr", "h")
        .node("MatMul", "z", "hr", "W2")
        .floatOutput("z", -1, C).toBytes();
    Samples train = Fixtures.batch(6, N, IN);
    try (LetheDb db = LetheDb.open(dir.resolve("db"));
        ModelStore store = new ModelStore(db, OrtEnvironment.getEnvironment(),
            StoreConfig.defaults());
        Fishers fishers = new Fishers(new FisherStore(db), 2, 1L << 30, dir)) {
      store.put(new ModelConfig("wide", LossFunction.SOFTMAX_CROSS_ENTROPY, "z", List.of(), N,
          0.0, 0.05, 0, 0, 0), onnx);
      FisherTarget target = store.fisherTarget("wide", 0);
      String id;
      try (FisherBuild b = fishers.startBuild(target, new FisherRequest("wide",
          CurvatureKind.EMPIRICAL, InversionMethod.GRAM, 0, 0, 0, 5, 0, N,
          FisherStructure.EKFAC, 0))) {
        b.accept(train);
        id = b.finish(p -> { }).summary().fisherId();
      }
      ModelView view = target.view();
      FisherHeader h = fishers.header("wide", id);
      assertTrue(h.kronecker().layers().get(0).entries()
          >= KroneckerInverse.SINGLE_PRECISION_ENTRIES);
      Samples gone = Batches.rows(train, new int[] {2, 9, 17, 25});
      FactoredGradient shared = FactoredGradient.of(view, h, gone, 0, null, h.modelVersion());
      assertNotNull(shared.fisherRows(h, gone));
      FactoredGradient apart = FactoredGradient.of(view, h, gone, 0, null, -1);
      assertNull(apart.fisherRows(h, gone));
      assertTrue(shared.factored(0));
      double[] x = fishers.leaveOut("wide", id, view, gone, shared, false).result().x();
      double[] y = fishers.leaveOut("wide", id, view, gone, apart, false).result().x();
      assertEquals(x.length, y.length);
      double diff = 0;
      double norm = 0;
      for (int i = 0; i < x.length; i++) {
        diff += (x[i] - y[i]) * (x[i] - y[i]);
        norm += y[i] * y[i];
      }
      assertTrue(norm > 0);
      assertTrue(Math.sqrt(diff / norm) <= 1e-6, "relative difference " + Math.sqrt(diff / norm));
    }
  }
}
