package dev.lethe.fisher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;
import dev.lethe.core.DenseTensor;
import dev.lethe.onnx.OnnxBuilder;
import dev.lethe.storage.LetheDb;
import dev.lethe.store.ModelStore;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The TRUE Fisher's rows against independent second-order computations: the exact Hessian of a
 * linear model's data loss (closed form), the Gauss–Newton matrix of an MLP (Jacobian by central
 * differences in double); and MONTE_CARLO converging to TRUE as draws grow.
 */
class FisherRowsTest {
  /** Rows are float32 gradients from ONNX Runtime. */
  private static final double RELATIVE = 1e-4;
  private static final int IN = 4;
  private static final int C = 3;
  private static final int N = 30;
  @TempDir Path dir;
  private LetheDb db;
  private ModelStore store;
  private final Random random = new Random(9);
  private final float[] w = Fixtures.random(random, C * IN);
  private final float[] b = Fixtures.random(random, C);
  private final float[] x = Fixtures.random(random, N * IN);

  @BeforeEach
  void open() {
    db = LetheDb.open(dir);
    store = new ModelStore(db, OrtEnvironment.getEnvironment(), StoreConfig.defaults());
  }

  @AfterEach
  void close() {
    store.close();
    db.close();
  }

  private void putLinear(String name, LossFunction loss) {
    byte[] onnx = new OnnxBuilder(name).floatInput("x", -1, IN)
        .initializer("W", w, C, IN).initializer("b", b, C)
        .node("Gemm", new String[] {"x", "W", "b"}, new String[] {"z"}, "transB", 1L)
        .floatOutput("z", -1, C).toBytes();
    store.put(new ModelConfig(name, loss, "z", List.of(), N, 0.01, 0, 0, 0, 0), onnx);
  }

  private Samples batch(boolean classLabels) {
    DenseTensor labels;
    if (classLabels) {
      long[] y = new long[N];
      for (int i = 0; i < N; i++) {
        y[i] = i % C;
      }
      labels = DenseTensor.ofLongs(new long[] {N}, y);
    } else {
      float[] y = new float[N * C];
      for (int i = 0; i < y.length; i++) {
        y[i] = i % 2;
      }
      labels = DenseTensor.ofFloats(new long[] {N, C}, y);
    }
    return new Samples(List.of(), Map.of("x", DenseTensor.ofFloats(new long[] {N, IN}, x)), labels);
  }

  /** Σ rows rowsᵀ / (number of rows): what the accumulator adds to λI. */
  private static double[][] meanOuter(float[] rows, int p) {
    int count = rows.length / p;
    double[][] m = new double[p][p];
    for (int r = 0; r < count; r++) {
      for (int i = 0; i < p; i++) {
        for (int j = 0; j < p; j++) {
          m[i][j] += (double) rows[r * p + i] * rows[r * p + j] / count;
        }
      }
    }
    return m;
  }

  private static double relative(double[][] a, double[][] e) {
    double d = 0;
    double n = 0;
    for (int i = 0; i < e.length; i++) {
      for (int j = 0; j < e.length; j++) {
        d += (a[i][j] - e[i][j]) * (a[i][j] - e[i][j]);
        n += e[i][j] * e[i][j];
      }
    }
    return Math.sqrt(d / n);
  }

  /** Parameter index → (class, feature) with the bias as feature IN (value 1). */
  private double feature(int sample, int index) {
    int f = index < C * IN ? index % IN : IN;
    return f == IN ? 1 : x[sample * IN + f];
  }

  private static int classOf(int index) {
    return index < C * IN ? index / IN : index - C * IN;
  }

  private double[] logits(int sample) {
    double[] z = new double[C];
    for (int c = 0; c < C; c++) {
      z[c] = b[c];
      for (int j = 0; j < IN; j++) {
        z[c] += w[c * IN + j] * x[sample * IN + j];
      }
    }
    return z;
  }

  @Test
  void trueFisherOfSoftmaxRegressionIsItsHessian() {
    putLinear("lin", LossFunction.SOFTMAX_CROSS_ENTROPY);
    FisherRows rows = new FisherRows(store.fisherTarget("lin", 0).view(), CurvatureKind.TRUE, 1, 0);
    int p = C * IN + C;
    double[][] fisher = meanOuter(rows.rows(batch(true), 0), p);
    double[][] hessian = new double[p][p];
    for (int s = 0; s < N; s++) {
      double[] prob = FisherRows.softmax(toFloat(logits(s)), 0, C);
      for (int i = 0; i < p; i++) {
        for (int j = 0; j < p; j++) {
          int ci = classOf(i);
          int cj = classOf(j);
          double a = (ci == cj ? prob[ci] : 0) - prob[ci] * prob[cj];
          hessian[i][j] += a * feature(s, i) * feature(s, j) / N;
        }
      }
    }
    assertTrue(relative(fisher, hessian) < RELATIVE, "relative error " + relative(fisher, hessian));
  }

  @Test
  void trueFisherOfSigmoidAttributesIsTheirHessian() {
    putLinear("bce", LossFunction.SIGMOID_BINARY_CROSS_ENTROPY);
    FisherRows rows = new FisherRows(store.fisherTarget("bce", 0).view(), CurvatureKind.TRUE, 1, 0);
    int p = C * IN + C;
    double[][] fisher = meanOuter(rows.rows(batch(false), 0), p);
    double[][] hessian = new double[p][p];
    for (int s = 0; s < N; s++) {
      double[] z = logits(s);
      for (int i = 0; i < p; i++) {
        for (int j = 0; j < p; j++) {
          if (classOf(i) == classOf(j)) {
            double sg = 1 / (1 + Math.exp(-z[classOf(i)]));
            hessian[i][j] += sg * (1 - sg) * feature(s, i) * feature(s, j) / N;
          }
        }
      }
    }
    assertTrue(relative(fisher, hessian) < RELATIVE, "relative error " + relative(fisher, hessian));
  }

  @Test
  void trueFisherOfAnMlpIsItsGaussNewtonMatrix() {
    Fixtures.Mlp mlp = Fixtures.mlp(5);
    store.put(Fixtures.spec("mlp"), mlp.onnx());
    Samples batch = Fixtures.batch(6, N);
    FisherRows rows = new FisherRows(store.fisherTarget("mlp", 0).view(), CurvatureKind.TRUE, 1, 0);
    int p = 27;
    double[][] fisher = meanOuter(rows.rows(batch, 0), p);
    float[][] params = {mlp.w1(), mlp.b1(), mlp.w2(), mlp.b2()};
    double h = 1e-4;
    double[][] gn = new double[p][p];
    for (int s = 0; s < N; s++) {
      float[] xs = java.util.Arrays.copyOfRange(batch.inputs().get("x").floats(), s * 4, s * 4 + 4);
      double[][] jac = new double[3][p]; // dz/dθ by central differences of the logits, in double
      int index = 0;
      for (float[] param : params) {
        for (int e = 0; e < param.length; e++, index++) {
          float saved = param[e];
          param[e] = (float) (saved + h);
          double[] plus = mlp.logits(xs);
          param[e] = (float) (saved - h);
          double[] minus = mlp.logits(xs);
          param[e] = saved;
          double step = ((double) (float) (saved + h) - (float) (saved - h));
          for (int c = 0; c < 3; c++) {
            jac[c][index] = (plus[c] - minus[c]) / step;
          }
        }
      }
      double[] prob = FisherRows.softmax(toFloat(mlp.logits(xs)), 0, 3);
      for (int i = 0; i < p; i++) {
        for (int j = 0; j < p; j++) {
          double sum = 0;
          for (int c = 0; c < 3; c++) {
            for (int d = 0; d < 3; d++) {
              sum += jac[c][i] * ((c == d ? prob[c] : 0) - prob[c] * prob[d]) * jac[d][j];
            }
          }
          gn[i][j] += sum / N;
        }
      }
    }
    assertTrue(relative(fisher, gn) < 1e-3, "relative error " + relative(fisher, gn));
  }

  @Test
  void monteCarloConvergesToTheTrueFisher() {
    putLinear("lin", LossFunction.SOFTMAX_CROSS_ENTROPY);
    int p = C * IN + C;
    double[][] exact = meanOuter(new FisherRows(store.fisherTarget("lin", 0).view(), CurvatureKind.TRUE, 1, 0).rows(batch(true), 0), p);
    double[] errors = new double[3];
    int[] draws = {1, 16, 256};
    for (int d = 0; d < draws.length; d++) {
      FisherRows mc = new FisherRows(store.fisherTarget("lin", 0).view(), CurvatureKind.MONTE_CARLO, draws[d], 17);
      assertEquals(draws[d], mc.rowsPerSample());
      errors[d] = relative(meanOuter(mc.rows(batch(true), 0), p), exact);
    }
    // Error ~ 1/sqrt(draws): 16x the draws should cut it about 4x.
    assertTrue(errors[1] < errors[0] / 2 && errors[2] < errors[1] / 2 && errors[2] < 0.1,
        java.util.Arrays.toString(errors));
  }

  @Test
  void monteCarloDrawsDependOnTheSamplesStreamPositionNotOnTheBatching() {
    // A multi-pass build recomputes rows per pass from replayed batches: the draws must repeat.
    putLinear("lin", LossFunction.SOFTMAX_CROSS_ENTROPY);
    FisherRows mc = new FisherRows(store.fisherTarget("lin", 0).view(), CurvatureKind.MONTE_CARLO, 4, 17);
    Samples all = batch(true);
    float[] whole = mc.rows(all, 100);
    int p = C * IN + C;
    float[] head = mc.rows(dev.lethe.core.Batches.range(all, 0, 11), 100);
    float[] tail = mc.rows(dev.lethe.core.Batches.range(all, 11, N), 111);
    float[] joined = java.util.Arrays.copyOf(head, whole.length);
    System.arraycopy(tail, 0, joined, head.length, tail.length);
    org.junit.jupiter.api.Assertions.assertArrayEquals(whole, joined);
    float[] shifted = mc.rows(all, 101);
    assertTrue(!java.util.Arrays.equals(whole, shifted), "another position draws other labels");
    assertEquals(N * 4 * p, whole.length);
  }

  private static float[] toFloat(double[] v) {
    float[] f = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      f[i] = (float) v[i];
    }
    return f;
  }
}
