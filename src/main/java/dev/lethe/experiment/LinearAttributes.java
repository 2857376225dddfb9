package dev.lethe.experiment;

import de.bwaldvogel.liblinear.Feature;
import de.bwaldvogel.liblinear.FeatureNode;
import de.bwaldvogel.liblinear.Linear;
import de.bwaldvogel.liblinear.Model;
import de.bwaldvogel.liblinear.Parameter;
import de.bwaldvogel.liblinear.Problem;
import de.bwaldvogel.liblinear.SolverType;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.onnx.OnnxBuilder;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/**
 * The convex model: a linear multi-attribute classifier without bias, logits z = W·x with W
 * [{@value PairedFashion#ATTRIBUTES}, {@value PairedFashion#FEATURES}], per-sample loss the sum
 * over attributes of sigmoid binary cross-entropy, trained with L2 weight decay μ:
 * min (1/n)·Σ_i l_i(W) + μ/2·|W|². The objective separates over attributes, so each row of W is an
 * L2-regularised logistic regression, solved to its optimum by liblinear's trust-region Newton
 * method ({@code L2R_LR}: ½|w|² + C·Σ log(1 + e^{−y w·x}), the same problem with C = 1/(nμ)).
 *
 * <p>Weights are flat double arrays in W's row-major order, which is the order Lethe flattens the
 * initializer {@code W} in. Stateless; the thread pool passed to {@link #train} is the caller's.
 */
final class LinearAttributes {
  static final String WEIGHTS = "W";
  static final String LOGITS = "logits";
  private static final int A = PairedFashion.ATTRIBUTES;
  private static final int D = PairedFashion.FEATURES;
  /**
   * liblinear's stopping tolerance on the gradient norm relative to its value at w = 0 (its
   * default is 0.01); the absolute gradient norm reached is reported with each model.
   */
  private static final double TOLERANCE = 1e-5;

  private LinearAttributes() {}

  static int parameterCount() {
    return A * D;
  }

  /** The weights minimising the objective on {@code rows}; attributes solved in parallel. */
  static double[] train(PairedFashion data, int[] rows, double mu, ExecutorService pool) {
    Feature[][] x = features(data, rows);
    double c = 1.0 / (rows.length * mu);
    double[] w = new double[A * D];
    List<Future<double[]>> parts = new java.util.ArrayList<>();
    for (int a = 0; a < A; a++) {
      int attribute = a;
      parts.add(pool.submit(() -> solve(data, rows, x, attribute, c)));
    }
    try {
      for (int a = 0; a < A; a++) {
        System.arraycopy(parts.get(a).get(), 0, w, a * D, D);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while training", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("liblinear failed", e.getCause());
    }
    return w;
  }

  private static double[] solve(PairedFashion data, int[] rows, Feature[][] x, int a, double c) {
    Problem p = new Problem();
    p.l = rows.length;
    p.n = D;
    p.x = x;
    p.bias = -1;
    p.y = new double[rows.length];
    for (int i = 0; i < rows.length; i++) {
      p.y[i] = data.has(rows[i], a) ? 1 : -1;
    }
    // With one label only (an attribute whose samples were all removed) liblinear trains that
    // label against nothing: the same objective, all terms of one sign.
    // liblinear's weights score its first label: +1 when both occur (it puts +1 first for
    // binary ±1 problems), else the only one. Orient them to score "attribute present".
    double sign = java.util.Arrays.stream(p.y).anyMatch(v -> v > 0) ? 1 : -1;
    Parameter parameter = new Parameter(SolverType.L2R_LR, c, 10_000, TOLERANCE);
    Linear.disableDebugOutput();
    Model model = Linear.train(p, parameter);
    if (model.getLabels()[0] != (int) sign) {
      throw new IllegalStateException("liblinear ordered the labels unexpectedly");
    }
    double[] w = model.getFeatureWeights();
    double[] out = new double[D];
    for (int j = 0; j < D; j++) {
      out[j] = sign * w[j];
    }
    return out;
  }

  private static Feature[][] features(PairedFashion data, int[] rows) {
    Feature[][] x = new Feature[rows.length][];
    float[] f = data.features();
    for (int i = 0; i < rows.length; i++) {
      int base = rows[i] * D;
      int nnz = 0;
      for (int j = 0; j < D; j++) {
        nnz += f[base + j] != 0 ? 1 : 0;
      }
      Feature[] row = new Feature[nnz];
      for (int j = 0, k = 0; j < D; j++) {
        if (f[base + j] != 0) {
          row[k++] = new FeatureNode(j + 1, f[base + j]);
        }
      }
      x[i] = row;
    }
    return x;
  }

  /** Logits [rows, A] of {@code w} on {@code rows}. */
  static double[] logits(double[] w, PairedFashion data, int[] rows) {
    double[] z = new double[rows.length * A];
    float[] f = data.features();
    for (int i = 0; i < rows.length; i++) {
      int base = rows[i] * D;
      for (int a = 0; a < A; a++) {
        double s = 0;
        for (int j = 0, wa = a * D; j < D; j++) {
          s += w[wa + j] * f[base + j];
        }
        z[i * A + a] = s;
      }
    }
    return z;
  }

  /**
   * Euclidean norm of the objective's gradient (1/n)·Σ_i xᵢ(σ(zᵢ) − yᵢ)ᵀ + μW at {@code w}: how
   * close a solution is to the exact optimum (0).
   */
  static double gradientNorm(double[] w, PairedFashion data, int[] rows, double mu) {
    double[] z = logits(w, data, rows);
    double[] g = new double[A * D];
    float[] f = data.features();
    for (int i = 0; i < rows.length; i++) {
      int base = rows[i] * D;
      for (int a = 0; a < A; a++) {
        double r = Losses.sigmoid(z[i * A + a]) - data.labels()[rows[i] * A + a];
        for (int j = 0, ga = a * D; j < D; j++) {
          g[ga + j] += r * f[base + j];
        }
      }
    }
    double s = 0;
    for (int k = 0; k < g.length; k++) {
      double v = g[k] / rows.length + mu * w[k];
      s += v * v;
    }
    return Math.sqrt(s);
  }

  /** The ONNX graph: {@code pixels} [N, D] → Gemm(W, transB) → {@code logits} [N, A]. */
  static byte[] onnx(double[] w, String graphName) {
    float[] f = new float[w.length];
    for (int i = 0; i < w.length; i++) {
      f[i] = (float) w[i];
    }
    return new OnnxBuilder(graphName)
        .floatInput(PairedFashion.INPUT, -1, D)
        .initializer(WEIGHTS, f, A, D)
        .node("Gemm", new String[] {PairedFashion.INPUT, WEIGHTS}, new String[] {LOGITS},
            "transB", 1L)
        .floatOutput(LOGITS, -1, A)
        .toBytes();
  }

  /**
   * Registration spec: sigmoid BCE on {@code logits}, parameter W, n, μ, Fisher blocks of
   * {@code blockSize} (≥ D keeps each attribute's row in one block, where TRUE is the exact
   * Hessian).
   */
  static ModelConfig spec(String name, long n, double mu, int blockSize) {
    return new ModelConfig(name, LossFunction.SIGMOID_BINARY_CROSS_ENTROPY, LOGITS, List.of(WEIGHTS), n, mu,
        0, 0, blockSize, 0);
  }
}
