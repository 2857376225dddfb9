package dev.lethe.train;

import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.data.Dataset;
import dev.lethe.onnx.OnnxBuilder;
import java.util.List;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * The weights of a D-H-C classifier, logits = W2·relu(W1·x + b1) + b2, in double: W1 [H, D],
 * b1 [H], W2 [C, H], b2 [C], each row-major. The served form ({@link #onnx}) stores them as
 * float32 in the layout Lethe's gradient engine and the erase benchmark expect:
 *
 * <pre>
 *   pixels [N, D] → Gemm(·, W1, b1, transB=1) → Relu → Gemm(·, W2, b2, transB=1) → logits
 *     → Softmax(axis=1) → probabilities [N, C]
 * </pre>
 *
 * with the erasable parameters in spec order W1, b1, W2, b2 ({@link #spec}). Inputs are fed as
 * they were in training (for Fashion-MNIST, pixels scaled to [0, 1] by the client).
 *
 * <p>Mutable (the trainer updates it in place); not thread-safe. The accessors return the live
 * matrices.
 */
public final class Mlp {
  public static final String INPUT = "pixels";
  public static final String LOGITS = "logits";
  public static final String OUTPUT = "probabilities";
  public static final List<String> PARAMETERS = List.of("W1", "b1", "W2", "b2");

  private final DMatrixRMaj w1;
  private final DMatrixRMaj b1;
  private final DMatrixRMaj w2;
  private final DMatrixRMaj b2;

  /** Zero weights of the given shape. */
  public Mlp(int inputs, int hidden, int classes) {
    if (inputs < 1 || hidden < 1 || classes < 2) {
      throw new IllegalArgumentException("need inputs >= 1, hidden >= 1, classes >= 2; got "
          + inputs + ", " + hidden + ", " + classes);
    }
    this.w1 = new DMatrixRMaj(hidden, inputs);
    this.b1 = new DMatrixRMaj(1, hidden);
    this.w2 = new DMatrixRMaj(classes, hidden);
    this.b2 = new DMatrixRMaj(1, classes);
  }

  /**
   * He initialisation: W1 ~ N(0, 2/D), W2 ~ N(0, 1/H) (the output layer has no ReLU after it),
   * biases zero.
   */
  public static Mlp initial(int inputs, int hidden, int classes, Random random) {
    Mlp m = new Mlp(inputs, hidden, classes);
    double s1 = Math.sqrt(2.0 / inputs);
    for (int i = 0; i < m.w1.data.length; i++) {
      m.w1.data[i] = s1 * random.nextGaussian();
    }
    double s2 = Math.sqrt(1.0 / hidden);
    for (int i = 0; i < m.w2.data.length; i++) {
      m.w2.data[i] = s2 * random.nextGaussian();
    }
    return m;
  }

  public int inputs() {
    return w1.numCols;
  }

  public int hidden() {
    return w1.numRows;
  }

  public int classes() {
    return w2.numRows;
  }

  /** P = H·D + H + C·H + C. */
  public int parameterCount() {
    return w1.data.length + b1.data.length + w2.data.length + b2.data.length;
  }

  DMatrixRMaj w1() {
    return w1;
  }

  DMatrixRMaj b1() {
    return b1;
  }

  DMatrixRMaj w2() {
    return w2;
  }

  DMatrixRMaj b2() {
    return b2;
  }

  /** The four parameter matrices in spec order (live). */
  DMatrixRMaj[] parameters() {
    return new DMatrixRMaj[] {w1, b1, w2, b2};
  }

  /** All parameters flattened in spec order W1, b1, W2, b2 (a fresh copy). */
  public double[] flatten() {
    double[] out = new double[parameterCount()];
    int at = 0;
    for (DMatrixRMaj p : parameters()) {
      System.arraycopy(p.data, 0, out, at, p.data.length);
      at += p.data.length;
    }
    return out;
  }

  /** Sets all parameters from {@code theta} in spec order (not modified). */
  public void set(double[] theta) {
    if (theta.length != parameterCount()) {
      throw new IllegalArgumentException("theta has " + theta.length + " entries, the model "
          + parameterCount());
    }
    int at = 0;
    for (DMatrixRMaj p : parameters()) {
      System.arraycopy(theta, at, p.data, 0, p.data.length);
      at += p.data.length;
    }
  }

  /** A deep copy. */
  public Mlp copy() {
    Mlp m = new Mlp(inputs(), hidden(), classes());
    m.set(flatten());
    return m;
  }

  /** Logits [N, C] of the inputs x [N, D] (not modified) into {@code logits} (reshaped). */
  public void logits(DMatrixRMaj x, DMatrixRMaj logits) {
    if (x.numCols != inputs()) {
      throw new IllegalArgumentException("x has " + x.numCols + " columns, the model " + inputs()
          + " inputs");
    }
    DMatrixRMaj h = new DMatrixRMaj(x.numRows, hidden());
    CommonOps_DDRM.multTransB(x, w1, h);
    addRowAndRelu(h, b1, true);
    logits.reshape(x.numRows, classes());
    CommonOps_DDRM.multTransB(h, w2, logits);
    addRowAndRelu(logits, b2, false);
  }

  /**
   * Fraction of {@code rows} of {@code data} (features times {@code scale}) whose largest logit
   * is at their label.
   */
  public double accuracy(Dataset data, int[] rows, float scale) {
    if (data.featureCount() != inputs()) {
      throw new IllegalArgumentException("data has " + data.featureCount() + " features, the model "
          + inputs() + " inputs");
    }
    int chunk = 1000;
    int correct = 0;
    DMatrixRMaj x = new DMatrixRMaj(1, inputs());
    DMatrixRMaj z = new DMatrixRMaj(1, classes());
    for (int from = 0; from < rows.length; from += chunk) {
      int n = Math.min(chunk, rows.length - from);
      Batching.fill(data, rows, from, n, scale, x);
      logits(x, z);
      for (int r = 0; r < n; r++) {
        int best = 0;
        for (int c = 1; c < classes(); c++) {
          if (z.get(r, c) > z.get(r, best)) {
            best = c;
          }
        }
        if (best == data.label(rows[from + r])) {
          correct++;
        }
      }
    }
    return rows.length == 0 ? Double.NaN : correct / (double) rows.length;
  }

  /** The served ONNX model (opset 17), weights as float32; see the class comment. */
  public byte[] onnx(String graphName) {
    long d = inputs();
    long h = hidden();
    long c = classes();
    return new OnnxBuilder(graphName)
        .opset(17)
        .floatInput(INPUT, -1, d)
        .initializer("W1", floats(w1), h, d)
        .initializer("b1", floats(b1), h)
        .initializer("W2", floats(w2), c, h)
        .initializer("b2", floats(b2), c)
        .node("Gemm", new String[] {INPUT, "W1", "b1"}, new String[] {"hidden_pre"}, "transB", 1L)
        .node("Relu", "hidden", "hidden_pre")
        .node("Gemm", new String[] {"hidden", "W2", "b2"}, new String[] {LOGITS}, "transB", 1L)
        .node("Softmax", new String[] {LOGITS}, new String[] {OUTPUT}, "axis", 1L)
        .floatOutput(OUTPUT, -1, c)
        .toBytes();
  }

  /**
   * The spec to register {@link #onnx} with: softmax cross-entropy on {@code logits}, parameters
   * W1, b1, W2, b2, trained on {@code trainSize} samples with weight decay {@code l2}; the
   * Fisher-related numbers left at their defaults.
   */
  public static ModelConfig spec(String name, long trainSize, double l2) {
    return new ModelConfig(name, LossFunction.SOFTMAX_CROSS_ENTROPY, LOGITS, PARAMETERS, trainSize, l2,
        0, 0, 0, 0);
  }

  /** Adds the row vector {@code bias} to every row of {@code m}, then optionally applies ReLU. */
  static void addRowAndRelu(DMatrixRMaj m, DMatrixRMaj bias, boolean relu) {
    int cols = m.numCols;
    double[] a = m.data;
    double[] b = bias.data;
    for (int r = 0; r < m.numRows; r++) {
      int base = r * cols;
      for (int j = 0; j < cols; j++) {
        double v = a[base + j] + b[j];
        a[base + j] = relu && v < 0 ? 0 : v;
      }
    }
  }

  private static float[] floats(DMatrixRMaj m) {
    float[] f = new float[m.data.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) m.data[i];
    }
    return f;
  }
}
