package dev.lethe.train;

import dev.lethe.data.Dataset;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;

/**
 * Trains an {@link Mlp} on chosen rows of a {@link Dataset} with mini-batch SGD and momentum (see
 * {@link MlpConfig} for the objective and the update). Deterministic: the same data rows, config
 * and seed give the same weights. The epoch order is a fresh seeded shuffle of the given rows
 * each epoch, so training "on the remaining data" after removing samples is the same procedure
 * on fewer rows.
 *
 * <p>Plain Java: the forward and backward passes are a handful of EJML dense products per
 * mini-batch ({@link MlpGradient}), which keeps the fat jar free of a native training runtime.
 * Stateless apart from its config; thread-safe (each call has its own workspaces).
 */
public final class MlpTrainer {
  private final MlpConfig config;

  public MlpTrainer(MlpConfig config) {
    this.config = config;
  }

  public MlpConfig config() {
    return config;
  }

  /**
   * The trained model and the mean mini-batch objective of each epoch (with the L2 term, as it
   * was while the weights moved).
   */
  public record Result(Mlp model, double[] epochLosses) {}

  /**
   * Trains on {@code rows} of {@code data} (not modified), features multiplied by {@code scale}
   * (1/255 for raw pixels), classes = the dataset's class count.
   *
   * @throws IllegalArgumentException for no rows, a row out of range, or fewer than 2 classes
   * @throws IllegalStateException when the objective stops being finite (learning rate too high)
   */
  public Result train(Dataset data, int[] rows, float scale) {
    if (rows.length == 0) {
      throw new IllegalArgumentException("no training rows");
    }
    for (int r : rows) {
      if (r < 0 || r >= data.size()) {
        throw new IllegalArgumentException("row " + r + " not in [0, " + data.size() + ")");
      }
    }
    Random random = new Random(config.seed());
    Mlp model = Mlp.initial(data.featureCount(), config.hidden(), data.numClasses(), random);
    Mlp gradient = new Mlp(model.inputs(), model.hidden(), model.classes());
    Mlp velocity = new Mlp(model.inputs(), model.hidden(), model.classes());
    MlpGradient objective = new MlpGradient(config.l2());
    int[] order = rows.clone();
    int[] y = new int[config.batchSize()];
    DMatrixRMaj x = new DMatrixRMaj(config.batchSize(), data.featureCount());
    double[] losses = new double[config.epochs()];
    int stepsPerEpoch = (order.length + config.batchSize() - 1) / config.batchSize();
    long totalSteps = (long) stepsPerEpoch * config.epochs();
    long t = 0;
    for (int epoch = 0; epoch < config.epochs(); epoch++) {
      shuffle(order, random);
      double sum = 0;
      int steps = 0;
      for (int from = 0; from < order.length; from += config.batchSize()) {
        int n = Math.min(config.batchSize(), order.length - from);
        Batching.fill(data, order, from, n, scale, x);
        Batching.labels(data, order, from, n, y);
        double loss = objective.lossAndGradient(model, x, y, gradient);
        if (!Double.isFinite(loss)) {
          throw new IllegalStateException("the training objective became " + loss + " in epoch "
              + (epoch + 1) + ": lower the learning rate (" + config.learningRate() + ")");
        }
        sum += loss;
        steps++;
        step(model, gradient, velocity, config.learningRate() * (1 - (double) t++ / totalSteps));
      }
      losses[epoch] = sum / steps;
    }
    return new Result(model, losses);
  }

  /** v ← m·v + g; θ ← θ − lr·v. */
  private void step(Mlp model, Mlp gradient, Mlp velocity, double lr) {
    double m = config.momentum();
    var p = model.parameters();
    var g = gradient.parameters();
    var v = velocity.parameters();
    for (int k = 0; k < p.length; k++) {
      double[] pd = p[k].data;
      double[] gd = g[k].data;
      double[] vd = v[k].data;
      int len = p[k].getNumElements();
      for (int i = 0; i < len; i++) {
        vd[i] = m * vd[i] + gd[i];
        pd[i] -= lr * vd[i];
      }
    }
  }

  /** Fisher–Yates: a uniformly random permutation of {@code a}, in place. */
  public static void shuffle(int[] a, Random random) {
    for (int i = a.length - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }
}
