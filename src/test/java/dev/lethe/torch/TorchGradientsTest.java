package dev.lethe.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.core.DenseTensor;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import dev.lethe.onnx.GradientResult;
import java.nio.FloatBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * DJL's per-sample gradients of TorchScript modules against torch autograd's in float64
 * ({@link TorchScriptFixtures}, by make_torchscript_fixtures.py): {@value #REL_TOL} relative per
 * parameter tensor and sample (DJL runs in float32). Also the L2 convention (gradient + μθ, loss
 * + μ/2 |θ|²), cotangent rows (with v = dL/dz from torch's logits they are the loss gradients),
 * forward logits, and that thousands of calls leave no tensors or native memory behind.
 */
class TorchGradientsTest {
  static final double REL_TOL = 1e-5;

  static List<String> families() {
    return TorchScriptFixtures.FAMILIES;
  }

  private static TorchGradients open(String family, TorchScriptFixtures.Reference ref) {
    TorchModule m = TorchModule.load(DeclaredFixtures.archive(family));
    assertEquals(DeclaredFixtures.parameterNames(ref), m.parameterNames(),
        "DJL names the parameters by their state_dict keys, named_parameters order");
    return new TorchGradients(m, List.copyOf(ref.samples().inputs().keySet()), m.parameterNames(),
        "", LossFunction.SOFTMAX_CROSS_ENTROPY);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("families")
  void gradientsEqualTorchAutograd(String family) {
    var ref = TorchScriptFixtures.reference(family);
    try (TorchGradients g = open(family, ref)) {
      List<FloatBuffer> params = DeclaredFixtures.parameters(ref);
      GradientResult r = g.compute(ref.samples(), params, "v", 0, true);
      DeclaredFixtures.assertMatches(family, ref, r.gradients(), DeclaredFixtures.flatParameters(ref), 0);
      for (int i = 0; i < r.size(); i++) {
        assertEquals(ref.losses()[i], r.losses()[i], 1e-5 * Math.max(1, Math.abs(ref.losses()[i])), "loss " + i);
      }
      float[] logits = g.logits(ref.samples(), params, "v").values();
      for (int k = 0; k < logits.length; k++) {
        assertEquals(ref.logits()[k], logits[k], 1e-5 * Math.max(1, Math.abs(ref.logits()[k])), "logit " + k);
      }
    }
  }

  @Test
  void l2AddsMuThetaToEveryGradientAndHalfMuThetaSquaredToTheLoss() {
    var ref = TorchScriptFixtures.reference("mlp");
    double mu = 0.03;
    float[] theta = DeclaredFixtures.flatParameters(ref);
    try (TorchGradients g = open("mlp", ref)) {
      GradientResult r = g.compute(ref.samples(), DeclaredFixtures.parameters(ref), null, mu, true);
      DeclaredFixtures.assertMatches("mlp", ref, r.gradients(), theta, mu);
      double sq = 0;
      for (float t : theta) {
        sq += (double) t * t;
      }
      for (int i = 0; i < r.size(); i++) {
        assertEquals(ref.losses()[i] + mu / 2 * sq, r.losses()[i], 1e-5, "loss " + i);
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("families")
  void cotangentRowsAtTheLossGradientOfTheLogitsAreTheLossGradients(String family) {
    var ref = TorchScriptFixtures.reference(family);
    int n = ref.samples().size();
    int c = ref.logits().length / n;
    float[] v = new float[n * c];
    for (int i = 0; i < n; i++) {
      double max = Double.NEGATIVE_INFINITY;
      for (int k = 0; k < c; k++) {
        max = Math.max(max, ref.logits()[i * c + k]);
      }
      double sum = 0;
      for (int k = 0; k < c; k++) {
        sum += Math.exp(ref.logits()[i * c + k] - max);
      }
      for (int k = 0; k < c; k++) {
        v[i * c + k] = (float) (Math.exp(ref.logits()[i * c + k] - max) / sum
            - (ref.samples().labels().longs()[i] == k ? 1 : 0));
      }
    }
    Samples unlabelled = new Samples(List.of(), ref.samples().inputs(), null);
    try (TorchGradients g = open(family, ref)) {
      GradientResult r = g.cotangent(unlabelled, DeclaredFixtures.parameters(ref), "v", v);
      assertEquals(null, r.losses());
      DeclaredFixtures.assertMatches(family, ref, r.gradients(), null, 0);
    }
  }

  @Test
  void thousandsOfCallsLeaveNoTensorsOrNativeMemoryBehind() throws Exception {
    var ref = TorchScriptFixtures.reference("mlp");
    try (TorchGradients g = open("mlp", ref)) {
      List<FloatBuffer> params = DeclaredFixtures.parameters(ref);
      Samples s = ref.samples();
      Runnable call = new Runnable() {
        int k;

        @Override
        public void run() {
          // alternate: weights copied in again (null identity) or kept; full gradients or norms
          g.compute(s, params, k % 2 == 0 ? null : "v", 0.01, k % 3 == 0);
          g.logits(s, params, k % 2 == 1 ? null : "v");
          k++;
        }
      };
      for (int k = 0; k < 500; k++) { // warm: allocator pools, the profiling executor
        call.run();
      }
      int tensors = g.moduleTensors();
      long[] nativeKb = new long[3];
      for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 1000; k++) {
          call.run();
        }
        nativeKb[round] = nativeKb();
      }
      assertEquals(tensors, g.moduleTensors(), "tensors attached to the module's manager");
      long grown = nativeKb[2] - nativeKb[0];
      assertTrue(grown < 16 * 1024, "native memory grew by " + grown + " KiB over the last 2000 "
          + "calls (after 1000: " + nativeKb[0] + " KiB, 2000: " + nativeKb[1] + ", 3000: " + nativeKb[2] + ")");
    }
  }

  /** Resident memory less the JVM's committed heap, non-heap and direct buffers, after a GC. */
  private static long nativeKb() throws Exception {
    System.gc();
    Thread.sleep(50);
    long rss = 0;
    for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        rss = Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    var mem = java.lang.management.ManagementFactory.getMemoryMXBean();
    long jvm = mem.getHeapMemoryUsage().getCommitted() + mem.getNonHeapMemoryUsage().getCommitted();
    for (var pool : java.lang.management.ManagementFactory.getPlatformMXBeans(
        java.lang.management.BufferPoolMXBean.class)) {
      jvm += pool.getMemoryUsed();
    }
    return rss - jvm / 1024;
  }
}
