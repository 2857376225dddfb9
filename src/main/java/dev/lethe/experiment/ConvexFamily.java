package dev.lethe.experiment;

import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;
import java.util.concurrent.ExecutorService;

/**
 * The convex experiment's family: {@link LinearAttributes} on {@link PairedFashion} samples.
 * Immutable; training uses the pool given (owned by the caller).
 */
final class ConvexFamily implements ModelFamily {
  private static final int A = PairedFashion.ATTRIBUTES;
  private final PairedFashion train;
  private final PairedFashion test;
  private final double mu;
  private final ExecutorService pool;

  ConvexFamily(PairedFashion train, PairedFashion test, double mu, ExecutorService pool) {
    this.train = train;
    this.test = test;
    this.mu = mu;
    this.pool = pool;
  }

  PairedFashion trainData() {
    return train;
  }

  @Override
  public String key() {
    return "convex";
  }

  @Override
  public String describe() {
    return String.format("linear multi-attribute classifier without bias (W [%d, %d], %d"
        + " parameters), sigmoid binary cross-entropy over %d attributes, L2 μ = %s, trained to"
        + " its optimum by liblinear (L2R_LR, trust-region Newton) on %d pairs of Fashion-MNIST"
        + " training images; %d test pairs from the test images", A, PairedFashion.FEATURES,
        LinearAttributes.parameterCount(), A, mu, train.size(), test.size());
  }

  @Override
  public int trainSize() {
    return train.size();
  }

  @Override
  public int testSize() {
    return test.size();
  }

  @Override
  public int outputs() {
    return A;
  }

  @Override
  public double[] train(int[] rows) {
    return LinearAttributes.train(train, rows, mu, pool);
  }

  @Override
  public String trainingNote(double[] theta, int[] rows) {
    return String.format("objective gradient norm %.2e at the solution (|θ| = %.3f)",
        LinearAttributes.gradientNorm(theta, train, rows, mu), Math.sqrt(dot(theta, theta)));
  }

  @Override
  public byte[] onnx(double[] theta, String graphName) {
    return LinearAttributes.onnx(theta, graphName);
  }

  @Override
  public ModelConfig spec(String name, int blockSize) {
    return LinearAttributes.spec(name, train.size(), mu, blockSize);
  }

  @Override
  public long[] parameterSizes() {
    return new long[] {LinearAttributes.parameterCount()};
  }

  @Override
  public Samples trainBatch(int[] rows) {
    return train.batch(rows);
  }

  @Override
  public Samples testBatch(int[] rows) {
    return test.batch(rows);
  }

  @Override
  public double[] probabilities(double[] theta, boolean isTest, int[] rows) {
    double[] z = LinearAttributes.logits(theta, isTest ? test : train, rows);
    for (int i = 0; i < z.length; i++) {
      z[i] = Losses.sigmoid(z[i]);
    }
    return z;
  }

  @Override
  public double accuracy(double[] p, boolean isTest, int[] rows) {
    float[] y = (isTest ? test : train).labels();
    long right = 0;
    for (int i = 0; i < rows.length; i++) {
      for (int a = 0; a < A; a++) {
        boolean predicted = p[i * A + a] >= 0.5;
        right += predicted == (y[rows[i] * A + a] != 0) ? 1 : 0;
      }
    }
    return (double) right / ((long) rows.length * A);
  }

  @Override
  public double[] losses(double[] p, boolean isTest, int[] rows) {
    float[] y = (isTest ? test : train).labels();
    double[] out = new double[rows.length];
    for (int i = 0; i < rows.length; i++) {
      for (int a = 0; a < A; a++) {
        double q = Math.min(Math.max(p[i * A + a], 1e-12), 1 - 1e-12);
        out[i] -= y[rows[i] * A + a] != 0 ? Math.log(q) : Math.log1p(-q);
      }
    }
    return out;
  }

  @Override
  public int[] nonMembers(int[] forget, java.util.Random random) {
    int shared = -1;
    for (int a = 0; a < A && shared < 0; a++) {
      boolean all = true;
      for (int r : forget) {
        all &= train.has(r, a);
      }
      shared = all ? a : -1;
    }
    int[] pool = shared >= 0 ? test.rowsWith(shared) : Rows.range(test.size());
    int[] order = Rows.shuffled(pool.length, random);
    int[] out = new int[forget.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = pool[order[i % pool.length]];
    }
    return out;
  }

  @Override
  public double[] signature(double[] p, int[] forgetRows) {
    float[] labels = new float[forgetRows.length * A];
    for (int i = 0; i < forgetRows.length; i++) {
      System.arraycopy(train.labels(), forgetRows[i] * A, labels, i * A, A);
    }
    return Quality.attributeAucs(p, labels, forgetRows.length, A);
  }

  static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }
}
