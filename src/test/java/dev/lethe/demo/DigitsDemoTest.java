package dev.lethe.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The demo model against computations written here, independently of {@link SoftmaxRegression}:
 * the data is parsed straight from the resource and the objective, gradient and probabilities
 * are recomputed from the returned weights. Trains once for the class.
 */
class DigitsDemoTest {
  private static final long SEED = 42L;
  private static final int N = 1797;
  private static final int D = 64;
  private static final int K = 10;
  /** Newton's stopping rule is |g| < 1e-8·max(1, |θ|) with |θ| ≈ 15.6. */
  private static final double OPTIMUM_GRADIENT_NORM = 1e-7;
  /** Central differences of f (≈ 0.26) with step H: rounding ≈ 1e-16·f/H, truncation ≈ H². */
  private static final double H = 1e-4;
  private static final double FD_GRADIENT_TOLERANCE = 1e-8;
  /** Observed 0.9794 (1760 of 1797); the same figure an independent L-BFGS fit gives. */
  private static final double MIN_TRAINING_ACCURACY = 0.975;
  /** ONNX Runtime computes in float32. */
  private static final double PROBABILITY_TOLERANCE = 1e-5;

  private static DemoModel model;
  private static double[][] pixels;
  private static int[] labels;

  @BeforeAll
  static void train() throws IOException {
    model = DigitsDemo.train();
    System.out.printf("digits demo: %d Newton iterations, |g| = %.3e, accuracy %.4f, %d ms%n",
        model.iterations(), model.gradientNorm(), model.trainingAccuracy(),
        model.trainingTime().toMillis());
    List<double[]> rows = new ArrayList<>();
    List<Integer> ys = new ArrayList<>();
    try (InputStream in = DigitsDemo.class.getResourceAsStream("digits.csv.gz");
        BufferedReader r = new BufferedReader(new InputStreamReader(new GZIPInputStream(in),
            StandardCharsets.UTF_8))) {
      for (String line = r.readLine(); line != null; line = r.readLine()) {
        String[] f = line.split(",");
        double[] x = new double[D];
        for (int j = 0; j < D; j++) {
          x[j] = Double.parseDouble(f[j]);
        }
        rows.add(x);
        ys.add(Integer.parseInt(f[D]));
      }
    }
    pixels = rows.toArray(new double[0][]);
    labels = ys.stream().mapToInt(Integer::intValue).toArray();
  }

  /** Objective at (W, b) computed from scratch, and its gradient into {@code gw}, {@code gb}. */
  private static double objective(double[][] w, double[] b, double mu, double[][] gw,
      double[] gb) {
    double loss = 0;
    double[] s = new double[K];
    for (int i = 0; i < N; i++) {
      double max = Double.NEGATIVE_INFINITY;
      for (int c = 0; c < K; c++) {
        s[c] = b[c];
        for (int j = 0; j < D; j++) {
          s[c] += w[c][j] * pixels[i][j] / 16;
        }
        max = Math.max(max, s[c]);
      }
      double z = 0;
      for (int c = 0; c < K; c++) {
        z += Math.exp(s[c] - max);
      }
      loss += max + Math.log(z) - s[labels[i]];
      for (int c = 0; c < K && gw != null; c++) {
        double r = Math.exp(s[c] - max) / z - (c == labels[i] ? 1 : 0);
        gb[c] += r / N;
        for (int j = 0; j < D; j++) {
          gw[c][j] += r * pixels[i][j] / 16 / N;
        }
      }
    }
    double norm2 = 0;
    for (int c = 0; c < K; c++) {
      norm2 += b[c] * b[c];
      if (gw != null) {
        gb[c] += mu * b[c];
      }
      for (int j = 0; j < D; j++) {
        norm2 += w[c][j] * w[c][j];
        if (gw != null) {
          gw[c][j] += mu * w[c][j];
        }
      }
    }
    return loss / N + 0.5 * mu * norm2;
  }

  @Test
  void trainingDataIsTheResource() {
    assertEquals(N, model.trainingData().size());
    for (int i = 0; i < N; i += 97) {
      assertEquals(labels[i], model.trainingData().label(i));
      for (int j = 0; j < D; j++) {
        assertEquals(pixels[i][j], model.trainingData().feature(i, j), "pixel " + i + "," + j);
      }
    }
    assertEquals("digits:5", model.trainingData().id(5));
  }

  @Test
  void gradientAtTheOptimumIsZero() {
    double[][] gw = new double[K][D];
    double[] gb = new double[K];
    objective(model.weights(), model.bias(), DigitsDemo.DEFAULT_L2, gw, gb);
    double norm2 = 0;
    for (int c = 0; c < K; c++) {
      norm2 += gb[c] * gb[c];
      for (int j = 0; j < D; j++) {
        norm2 += gw[c][j] * gw[c][j];
      }
    }
    double norm = Math.sqrt(norm2);
    assertTrue(norm < OPTIMUM_GRADIENT_NORM, "|g| recomputed = " + norm);
    assertEquals(norm, model.gradientNorm(), 1e-12, "reported |g|");
  }

  @Test
  void finiteDifferencesOfTheObjectiveVanishAtTheOptimum() {
    Random random = new Random(SEED);
    for (int trial = 0; trial < 6; trial++) {
      int c = random.nextInt(K);
      int j = random.nextInt(D + 1); // j == D: the bias
      double fd = (shiftedObjective(c, j, H) - shiftedObjective(c, j, -H)) / (2 * H);
      assertEquals(0, fd, FD_GRADIENT_TOLERANCE, "∂f/∂θ[" + c + "," + j + "]");
    }
    // the check can fail: away from the optimum the same difference is far from zero
    double away = (shiftedObjective(0, D, 1) - shiftedObjective(0, D, 1 - 2 * H)) / (2 * H);
    assertTrue(Math.abs(away) > 1e3 * FD_GRADIENT_TOLERANCE, "slope 1 away: " + away);
  }

  private static double shiftedObjective(int c, int j, double h) {
    double[][] w = new double[K][];
    for (int k = 0; k < K; k++) {
      w[k] = model.weights()[k].clone();
    }
    double[] b = model.bias().clone();
    if (j == D) {
      b[c] += h;
    } else {
      w[c][j] += h;
    }
    return objective(w, b, DigitsDemo.DEFAULT_L2, null, null);
  }

  @Test
  void classifiesTheTrainingDataWell() {
    int correct = 0;
    for (int i = 0; i < N; i++) {
      correct += argmax(javaProbabilities(model.weights(), model.bias(), pixels[i])) == labels[i]
          ? 1 : 0;
    }
    assertEquals((double) correct / N, model.trainingAccuracy(), 1e-12);
    assertTrue(model.trainingAccuracy() >= MIN_TRAINING_ACCURACY,
        "accuracy " + model.trainingAccuracy());
    assertTrue(model.iterations() > 0);
  }

  @Test
  void specDescribesTheModel() {
    ModelConfig spec = model.spec();
    assertEquals(new ModelConfig("digits", LossFunction.SOFTMAX_CROSS_ENTROPY, "logits",
        List.of("W", "b"), N, DigitsDemo.DEFAULT_L2, 0, 0, 0, 0).withFeatures(1, 0, 0, 16), spec);
  }

  @Test
  void onnxGraphHasTheDocumentedStructure() throws InvalidProtocolBufferException {
    OnnxMl.ModelProto proto = OnnxMl.ModelProto.parseFrom(model.onnx());
    assertEquals(17, proto.getOpsetImport(0).getVersion());
    OnnxMl.GraphProto g = proto.getGraph();
    assertEquals(List.of("pixels"), g.getInputList().stream().map(v -> v.getName()).toList());
    assertEquals("N", g.getInput(0).getType().getTensorType().getShape().getDim(0).getDimParam());
    assertEquals(List.of("probabilities"),
        g.getOutputList().stream().map(v -> v.getName()).toList());
    assertEquals(Set.of("pixel_scale", "W", "b"),
        Set.copyOf(g.getInitializerList().stream().map(t -> t.getName()).toList()));
    assertEquals(List.of("Mul", "Gemm", "Softmax"),
        g.getNodeList().stream().map(n -> n.getOpType()).toList());
    OnnxMl.NodeProto gemm = g.getNode(1);
    assertEquals(List.of("pixels_scaled", "W", "b"), gemm.getInputList());
    assertEquals(List.of("logits"), gemm.getOutputList());
    assertEquals("transB", gemm.getAttribute(0).getName());
    assertEquals(1, gemm.getAttribute(0).getI());
    assertEquals(List.of("logits"), g.getNode(2).getInputList());
    assertEquals(1, g.getNode(2).getAttribute(0).getI(), "Softmax axis");
    assertArrayEquals(new float[] {1f / 16}, initializer(g, "pixel_scale"));
    assertEquals(List.of(10L, 64L), find(g, "W").getDimsList());
    assertEquals(List.of(10L), find(g, "b").getDimsList());
  }

  @Test
  void onnxRuntimeMatchesJavaSoftmax() throws OrtException, InvalidProtocolBufferException {
    // reference from the float32 weights in the file, so only ORT's float arithmetic differs
    OnnxMl.GraphProto g = OnnxMl.ModelProto.parseFrom(model.onnx()).getGraph();
    float[] wf = initializer(g, "W");
    float[] bf = initializer(g, "b");
    double[][] w = new double[K][D];
    double[] b = new double[K];
    for (int c = 0; c < K; c++) {
      b[c] = bf[c];
      for (int j = 0; j < D; j++) {
        w[c][j] = wf[c * D + j];
      }
    }
    float[] input = new float[N * D];
    for (int i = 0; i < N; i++) {
      for (int j = 0; j < D; j++) {
        input[i * D + j] = (float) pixels[i][j];
      }
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession session = env.createSession(model.onnx());
        OnnxTensor x = OnnxTensor.createTensor(env, FloatBuffer.wrap(input), new long[] {N, D});
        OrtSession.Result result = session.run(Map.of("pixels", x))) {
      assertEquals(Set.of("probabilities"), session.getOutputNames());
      float[][] p = (float[][]) result.get("probabilities").orElseThrow().getValue();
      assertEquals(N, p.length);
      double worst = 0;
      for (int i = 0; i < N; i++) {
        double[] expected = javaProbabilities(w, b, pixels[i]);
        for (int c = 0; c < K; c++) {
          worst = Math.max(worst, Math.abs(expected[c] - p[i][c]));
        }
      }
      System.out.printf("digits demo: max |p_ORT - p_Java| = %.2e over %d x %d%n", worst, N, K);
      assertTrue(worst < PROBABILITY_TOLERANCE, "max |p_ORT - p_Java| = " + worst);
    }
  }

  private static double[] javaProbabilities(double[][] w, double[] b, double[] x) {
    double[] s = new double[K];
    double max = Double.NEGATIVE_INFINITY;
    for (int c = 0; c < K; c++) {
      s[c] = b[c];
      for (int j = 0; j < D; j++) {
        s[c] += w[c][j] * x[j] / 16;
      }
      max = Math.max(max, s[c]);
    }
    double z = 0;
    for (int c = 0; c < K; c++) {
      s[c] = Math.exp(s[c] - max);
      z += s[c];
    }
    for (int c = 0; c < K; c++) {
      s[c] /= z;
    }
    return s;
  }

  private static int argmax(double[] v) {
    int best = 0;
    for (int c = 1; c < v.length; c++) {
      best = v[c] > v[best] ? c : best;
    }
    return best;
  }

  private static OnnxMl.TensorProto find(OnnxMl.GraphProto g, String name) {
    return g.getInitializerList().stream().filter(t -> t.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no initializer " + name));
  }

  private static float[] initializer(OnnxMl.GraphProto g, String name) {
    FloatBuffer raw = find(g, name).getRawData().asReadOnlyByteBuffer()
        .order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    float[] values = new float[raw.remaining()];
    raw.get(values);
    return values;
  }
}
