package dev.lethe.experiment;

import dev.lethe.core.Batches;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;
import dev.lethe.data.BatchFormat;
import dev.lethe.data.Dataset;
import dev.lethe.train.Mlp;
import dev.lethe.train.MlpConfig;
import dev.lethe.train.MlpTrainer;
import org.ejml.data.DMatrixRMaj;

/**
 * The non-convex experiment's family: a one-hidden-layer ReLU MLP ({@link Mlp}, 784-H-10)
 * trained by {@link MlpTrainer} (SGD with momentum, fixed seed, so the same rows give the same
 * weights) on the first n Fashion-MNIST training images, pixels scaled to [0, 1]. Immutable;
 * training runs in the calling thread.
 */
final class MlpFamily implements ModelFamily {
  private static final float SCALE = 1 / 255f;
  private final Dataset train;
  private final Dataset test;
  private final int n;
  private final int testN;
  private final MlpConfig config;
  private final Samples trainBatch;
  private final Samples testBatch;
  private final String key;

  /** Trains on the first n training images and tests on the first testN test images. */
  MlpFamily(Dataset train, Dataset test, int n, int testN, MlpConfig config) {
    this("mlp", train, test, n, testN, config);
  }

  /** The same under another key (model names and figure files): "mlp-early" for issue 20's case. */
  MlpFamily(String key, Dataset train, Dataset test, int n, int testN, MlpConfig config) {
    this.key = key;
    this.train = train;
    this.test = test;
    this.n = n;
    this.testN = Math.min(testN, test.size());
    this.config = config;
    this.trainBatch = train.batch(0, n, BatchFormat.of(Mlp.INPUT).withScale(SCALE));
    this.testBatch = test.batch(0, this.testN, BatchFormat.of(Mlp.INPUT).withScale(SCALE));
  }

  Dataset trainData() {
    return train;
  }

  @Override
  public String key() {
    return key;
  }

  @Override
  public String describe() {
    Mlp shape = new Mlp(784, config.hidden(), 10);
    return String.format("MLP 784-%d-10 (ReLU, %d parameters), softmax cross-entropy, SGD with"
        + " momentum %s, lr %s decaying linearly, batch %d, %d epochs, L2 μ = %s, seed %d, on the"
        + " first %d Fashion-MNIST training images; %d test images", config.hidden(),
        shape.parameterCount(), config.momentum(), config.learningRate(), config.batchSize(),
        config.epochs(), config.l2(), config.seed(), n, testN);
  }

  @Override
  public int trainSize() {
    return n;
  }

  @Override
  public int testSize() {
    return testN;
  }

  @Override
  public int outputs() {
    return 10;
  }

  int label(boolean isTest, int row) {
    return (isTest ? test : train).label(row);
  }

  @Override
  public double[] train(int[] rows) {
    return train(rows, config.seed());
  }

  /** The same trainer with another seed (initial weights and shuffles). */
  double[] train(int[] rows, long seed) {
    MlpConfig c = new MlpConfig(config.hidden(), config.epochs(), config.batchSize(),
        config.learningRate(), config.momentum(), config.l2(), seed);
    return new MlpTrainer(c).train(train, rows, SCALE).model().flatten();
  }

  /** The seed θ* and the gold standard are trained with. */
  long seed() {
    return config.seed();
  }

  @Override
  public String trainingNote(double[] theta, int[] rows) {
    double[] p = probabilities(theta, false, rows);
    double loss = 0;
    for (double l : losses(p, false, rows)) {
      loss += l;
    }
    return String.format("training loss %.4f, training accuracy %.4f", loss / rows.length,
        accuracy(p, false, rows));
  }

  @Override
  public byte[] onnx(double[] theta, String graphName) {
    return model(theta).onnx(graphName);
  }

  @Override
  public ModelConfig spec(String name, int blockSize) {
    ModelConfig s = Mlp.spec(name, n, config.l2());
    return new ModelConfig(s.name(), s.loss(), s.logitsOutput(), s.erasableParameters(),
        s.trainSize(), s.l2(), s.dampening(), s.scale(), blockSize, s.fisherMinibatch());
  }

  @Override
  public long[] parameterSizes() {
    long h = config.hidden();
    return new long[] {h * 784, h, 10 * h, 10};
  }

  @Override
  public Samples trainBatch(int[] rows) {
    return Batches.rows(trainBatch, rows);
  }

  @Override
  public Samples testBatch(int[] rows) {
    return Batches.rows(testBatch, rows);
  }

  private Mlp model(double[] theta) {
    Mlp m = new Mlp(784, config.hidden(), 10);
    m.set(theta);
    return m;
  }

  @Override
  public double[] probabilities(double[] theta, boolean isTest, int[] rows) {
    Mlp m = model(theta);
    Dataset data = isTest ? test : train;
    double[] p = new double[rows.length * 10];
    int chunk = 1000;
    float[] row = new float[784];
    for (int from = 0; from < rows.length; from += chunk) {
      int k = Math.min(chunk, rows.length - from);
      DMatrixRMaj x = new DMatrixRMaj(k, 784);
      for (int i = 0; i < k; i++) {
        data.copyRow(rows[from + i], SCALE, row, 0);
        for (int j = 0; j < 784; j++) {
          x.data[i * 784 + j] = row[j];
        }
      }
      DMatrixRMaj z = new DMatrixRMaj(k, 10);
      m.logits(x, z);
      for (int i = 0; i < k; i++) {
        Losses.softmax(z.data, i * 10, 10, z.data);
      }
      System.arraycopy(z.data, 0, p, from * 10, k * 10);
    }
    return p;
  }

  @Override
  public double accuracy(double[] p, boolean isTest, int[] rows) {
    int right = 0;
    for (int i = 0; i < rows.length; i++) {
      int best = 0;
      for (int c = 1; c < 10; c++) {
        if (p[i * 10 + c] > p[i * 10 + best]) {
          best = c;
        }
      }
      right += best == label(isTest, rows[i]) ? 1 : 0;
    }
    return rows.length == 0 ? Double.NaN : (double) right / rows.length;
  }

  @Override
  public double[] losses(double[] p, boolean isTest, int[] rows) {
    double[] out = new double[rows.length];
    for (int i = 0; i < rows.length; i++) {
      out[i] = -Math.log(Math.max(p[i * 10 + label(isTest, rows[i])], 1e-12));
    }
    return out;
  }

  @Override
  public int[] nonMembers(int[] forget, java.util.Random random) {
    java.util.List<java.util.List<Integer>> byClass = new java.util.ArrayList<>();
    for (int c = 0; c < 10; c++) {
      byClass.add(new java.util.ArrayList<>());
    }
    for (int i = 0; i < testN; i++) {
      byClass.get(test.label(i)).add(i);
    }
    byClass.forEach(l -> java.util.Collections.shuffle(l, random));
    int[] used = new int[10];
    int[] out = new int[forget.length];
    for (int i = 0; i < forget.length; i++) {
      java.util.List<Integer> pool = byClass.get(train.label(forget[i]));
      out[i] = pool.get(used[train.label(forget[i])]++ % pool.size());
    }
    return out;
  }

  @Override
  public double[] signature(double[] p, int[] forgetRows) {
    return p;
  }
}
