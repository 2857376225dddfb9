package dev.lethe.demo;

import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.data.CsvFiles;
import dev.lethe.data.Dataset;
import dev.lethe.onnx.OnnxBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;

/**
 * The embedded demo model: a 10-class classifier of the UCI handwritten digits (8x8, pixels
 * 0..16; shipped as the resource {@code digits.csv.gz}, see its NOTICE), trained at first start
 * by multinomial logistic regression with L2 weight decay μ to its exact optimum
 * ({@link SoftmaxRegression} minimised by {@link NewtonMethod}), then written as ONNX:
 *
 * <pre>
 *   pixels [N, 64] → Mul(1/16) → Gemm(·, W [10, 64], b [10], transB=1) → logits → Softmax(axis=1)
 *     → probabilities [N, 10]
 * </pre>
 *
 * The erasable parameters are W and b; {@code logits} is an internal value, not a graph output,
 * as in models exported with a final softmax. Stateless; thread-safe.
 */
public final class DigitsDemo {
  public static final String MODEL_NAME = "digits";
  public static final String INPUT = "pixels";
  public static final String LOGITS = "logits";
  public static final String OUTPUT = "probabilities";
  public static final String WEIGHTS = "W";
  public static final String BIAS = "b";
  public static final String PIXEL_SCALE = "pixel_scale";
  public static final int FEATURES = 64;
  public static final int CLASSES = 10;
  /** Pixels are counts 0..16; the model scales them to [0, 1]. */
  public static final double PIXEL_MAX = 16;
  public static final double DEFAULT_L2 = 1e-3;
  /** Newton stops when |∇f| &lt; this · max(1, |θ|). */
  public static final double GRADIENT_TOLERANCE = 1e-8;
  private static final int MAX_NEWTON_ITERATIONS = 100;
  private static final String RESOURCE = "digits.csv.gz";

  private DigitsDemo() {}

  /** The shipped training data: 1797 samples, features raw 0..16, ids {@code digits:<row>}. */
  public static Dataset trainingData() {
    try (InputStream in = DigitsDemo.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("resource dev/lethe/demo/" + RESOURCE + " missing");
      }
      return CsvFiles.read(in, "resource dev/lethe/demo/" + RESOURCE, MODEL_NAME);
    } catch (IOException e) {
      throw new UncheckedIOException("reading resource dev/lethe/demo/" + RESOURCE, e);
    }
  }

  /** {@link #train(double)} with {@link #DEFAULT_L2}. */
  public static DemoModel train() {
    return train(DEFAULT_L2);
  }

  /**
   * Trains the demo model with weight decay {@code l2} (&gt; 0, which makes the optimum unique)
   * and builds its ONNX model and spec.
   *
   * @throws IllegalStateException if the optimisation fails numerically
   */
  public static DemoModel train(double l2) {
    if (!(l2 > 0)) {
      throw new IllegalArgumentException("l2 must be positive: " + l2);
    }
    Dataset data = trainingData();
    if (data.featureCount() != FEATURES || data.numClasses() != CLASSES) {
      throw new IllegalStateException("demo data has " + data.featureCount() + " features and "
          + data.numClasses() + " classes, expected " + FEATURES + " and " + CLASSES);
    }
    long start = System.nanoTime();
    SoftmaxRegression objective = objective(data, l2);
    NewtonMethod.Result fit = NewtonMethod.minimize(objective, new double[objective.dimension()],
        GRADIENT_TOLERANCE, MAX_NEWTON_ITERATIONS);
    Duration time = Duration.ofNanos(System.nanoTime() - start);

    double[][] w = new double[CLASSES][FEATURES];
    double[] b = new double[CLASSES];
    for (int c = 0; c < CLASSES; c++) {
      System.arraycopy(fit.theta(), c * (FEATURES + 1), w[c], 0, FEATURES);
      b[c] = fit.theta()[c * (FEATURES + 1) + FEATURES];
    }
    ModelConfig spec = new ModelConfig(MODEL_NAME, LossFunction.SOFTMAX_CROSS_ENTROPY, LOGITS,
        List.of(WEIGHTS, BIAS), data.size(), l2, 0, 0, 0, 0)
        .withFeatures(1, 0, 0, 16); // raw pixels 0..16; the graph scales them itself
    return new DemoModel(onnx(w, b), spec, w, b, objective.accuracy(fit.theta()),
        fit.gradientNorm(), fit.iterations(), time, data);
  }

  /** The training objective on {@code data}: features scaled by 1/{@link #PIXEL_MAX}. */
  static SoftmaxRegression objective(Dataset data, double l2) {
    int n = data.size();
    int d = data.featureCount();
    float[] row = new float[d];
    double[] x = new double[n * d];
    int[] y = new int[n];
    for (int i = 0; i < n; i++) {
      data.copyRow(i, 1f, row, 0);
      for (int j = 0; j < d; j++) {
        x[i * d + j] = row[j] / PIXEL_MAX;
      }
      y[i] = data.label(i);
    }
    return new SoftmaxRegression(x, d, y, CLASSES, l2);
  }

  /** The ONNX model (opset 17) with weights W [10][64] and b [10], stored as float32. */
  static byte[] onnx(double[][] w, double[] b) {
    float[] wf = new float[CLASSES * FEATURES];
    float[] bf = new float[CLASSES];
    for (int c = 0; c < CLASSES; c++) {
      for (int j = 0; j < FEATURES; j++) {
        wf[c * FEATURES + j] = (float) w[c][j];
      }
      bf[c] = (float) b[c];
    }
    return new OnnxBuilder(MODEL_NAME)
        .opset(17)
        .floatInput(INPUT, -1, FEATURES)
        .initializer(PIXEL_SCALE, new float[] {(float) (1 / PIXEL_MAX)})
        .initializer(WEIGHTS, wf, CLASSES, FEATURES)
        .initializer(BIAS, bf, CLASSES)
        .node("Mul", "pixels_scaled", INPUT, PIXEL_SCALE)
        .node("Gemm", new String[] {"pixels_scaled", WEIGHTS, BIAS}, new String[] {LOGITS},
            "transB", 1L)
        .node("Softmax", new String[] {LOGITS}, new String[] {OUTPUT}, "axis", 1L)
        .floatOutput(OUTPUT, -1, CLASSES)
        .toBytes();
  }
}
