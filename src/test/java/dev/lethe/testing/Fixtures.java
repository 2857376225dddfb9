package dev.lethe.testing;

import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;
import dev.lethe.core.DenseTensor;
import dev.lethe.onnx.OnnxBuilder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Small models and batches for tests, built from a seeded Random. */
public final class Fixtures {
  public static final int IN = 4;
  public static final int HIDDEN = 3;
  public static final int CLASSES = 3;

  private Fixtures() {}

  /** Weights of the MLP fixture, so tests can compute its logits independently. */
  public record Mlp(float[] w1, float[] b1, float[] w2, float[] b2, byte[] onnx) {
    /** logits = W2 relu(W1 x + b1) + b2 for one sample. */
    public double[] logits(float[] x) {
      double[] h = new double[HIDDEN];
      for (int j = 0; j < HIDDEN; j++) {
        double s = b1[j];
        for (int i = 0; i < IN; i++) {
          s += w1[j * IN + i] * x[i];
        }
        h[j] = Math.max(0, s);
      }
      double[] z = new double[CLASSES];
      for (int k = 0; k < CLASSES; k++) {
        double s = b2[k];
        for (int j = 0; j < HIDDEN; j++) {
          s += w2[k * HIDDEN + j] * h[j];
        }
        z[k] = s;
      }
      return z;
    }
  }

  /**
   * x [N, 4] -> Gemm(W1, b1) -> Relu -> Gemm(W2, b2) = "logits" -> Softmax -> output "probs".
   * The logits are an internal value on purpose.
   */
  public static Mlp mlp(long seed) {
    Random r = new Random(seed);
    float[] w1 = random(r, HIDDEN * IN);
    float[] b1 = random(r, HIDDEN);
    float[] w2 = random(r, CLASSES * HIDDEN);
    float[] b2 = random(r, CLASSES);
    byte[] onnx = new OnnxBuilder("mlp")
        .floatInput("x", -1, IN)
        .initializer("W1", w1, HIDDEN, IN)
        .initializer("b1", b1, HIDDEN)
        .initializer("W2", w2, CLASSES, HIDDEN)
        .initializer("b2", b2, CLASSES)
        .node("Gemm", new String[] {"x", "W1", "b1"}, new String[] {"h"}, "transB", 1L)
        .node("Relu", "hr", "h")
        .node("Gemm", new String[] {"hr", "W2", "b2"}, new String[] {"logits"}, "transB", 1L)
        .node("Softmax", new String[] {"logits"}, new String[] {"probs"}, "axis", 1L)
        .floatOutput("probs", -1, CLASSES)
        .toBytes();
    return new Mlp(w1, b1, w2, b2, onnx);
  }

  public static ModelConfig spec(String name) {
    return new ModelConfig(name, LossFunction.SOFTMAX_CROSS_ENTROPY, "logits", List.of(), 100, 0.01, 0, 0, 0, 0);
  }

  /** n samples for the MLP fixture with labels in [0, 3) and ids "s0".."s{n-1}". */
  public static Samples batch(long seed, int n) {
    return batch(seed, n, IN);
  }

  /** n samples of {@code width} Gaussian features, labels in [0, 3), ids "s0".."s{n-1}". */
  public static Samples batch(long seed, int n, int width) {
    Random r = new Random(seed);
    float[] x = random(r, n * width);
    long[] y = new long[n];
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      y[i] = r.nextInt(CLASSES);
      ids.add("s" + i);
    }
    return new Samples(ids, Map.of("x", DenseTensor.ofFloats(new long[] {n, width}, x)),
        DenseTensor.ofLongs(new long[] {n}, y));
  }

  public static float[] random(Random r, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return v;
  }
}
