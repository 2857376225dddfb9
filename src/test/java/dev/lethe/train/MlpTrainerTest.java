package dev.lethe.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.lethe.data.DataFiles;
import dev.lethe.data.Dataset;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;

/**
 * The trainer's backward pass against central finite differences of its own objective, the ONNX
 * export against the Java forward pass (through ONNX Runtime), determinism, and a short training
 * run on real Fashion-MNIST data (skipped when {@code ../shared/data} is absent).
 */
class MlpTrainerTest {
  /** Central differences in double with step 1e-5: truncation ~1e-10, rounding ~1e-11. */
  private static final double FD_STEP = 1e-5;
  private static final double FD_TOLERANCE = 1e-7;
  /** ORT computes in float32; logits of a few units, probabilities in [0, 1]. */
  private static final double PROBABILITY_TOLERANCE = 1e-5;
  private static final Path FASHION = Path.of("..", "shared", "data", "fashion-mnist");

  private static DMatrixRMaj randomInputs(Random r, int n, int d) {
    DMatrixRMaj x = new DMatrixRMaj(n, d);
    for (int i = 0; i < x.data.length; i++) {
      x.data[i] = r.nextGaussian();
    }
    return x;
  }

  @Test
  void gradientMatchesCentralFiniteDifferences() {
    Random r = new Random(7);
    int d = 5;
    int h = 4;
    int c = 3;
    int b = 6;
    Mlp model = Mlp.initial(d, h, c, r);
    double[] theta = model.flatten();
    for (int i = 0; i < theta.length; i++) {
      theta[i] += 0.1 * r.nextGaussian(); // non-zero biases too
    }
    model.set(theta);
    DMatrixRMaj x = randomInputs(r, b, d);
    int[] y = {0, 2, 1, 1, 0, 2};
    MlpGradient objective = new MlpGradient(0.05);
    Mlp gradient = new Mlp(d, h, c);
    objective.lossAndGradient(model, x, y, gradient);
    double[] analytic = gradient.flatten();
    Mlp scratch = new Mlp(d, h, c);
    Mlp probe = model.copy();
    double worst = 0;
    for (int i = 0; i < theta.length; i++) {
      double[] t = theta.clone();
      t[i] = theta[i] + FD_STEP;
      probe.set(t);
      double up = objective.lossAndGradient(probe, x, y, scratch);
      t[i] = theta[i] - FD_STEP;
      probe.set(t);
      double down = objective.lossAndGradient(probe, x, y, scratch);
      double numeric = (up - down) / (2 * FD_STEP);
      worst = Math.max(worst, Math.abs(numeric - analytic[i]) / Math.max(1, Math.abs(numeric)));
    }
    assertTrue(worst < FD_TOLERANCE, "worst relative difference " + worst);
    assertEquals(d * h + h + h * c + c, analytic.length);
  }

  @Test
  void onnxExportComputesTheJavaForwardPass() throws Exception {
    Random r = new Random(3);
    int d = 12;
    int n = 9;
    Mlp model = Mlp.initial(d, 7, 4, r);
    DMatrixRMaj x = randomInputs(r, n, d);
    DMatrixRMaj z = new DMatrixRMaj(1, 1);
    float[] input = new float[n * d];
    for (int i = 0; i < input.length; i++) {
      input[i] = (float) x.data[i];
      x.data[i] = input[i]; // both sides see the same float32 inputs
    }
    model.logits(x, z);
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession session = env.createSession(model.onnx("t"));
        OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(input), new long[] {n, d});
        OrtSession.Result result = session.run(Map.of(Mlp.INPUT, t))) {
      float[][] p = (float[][]) result.get(Mlp.OUTPUT).orElseThrow().getValue();
      double worst = 0;
      for (int i = 0; i < n; i++) {
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < 4; k++) {
          max = Math.max(max, z.get(i, k));
        }
        double sum = 0;
        for (int k = 0; k < 4; k++) {
          sum += Math.exp(z.get(i, k) - max);
        }
        for (int k = 0; k < 4; k++) {
          worst = Math.max(worst, Math.abs(Math.exp(z.get(i, k) - max) / sum - p[i][k]));
        }
      }
      assertTrue(worst < PROBABILITY_TOLERANCE, "max |p_ORT - p_Java| = " + worst);
    }
  }

  @Test
  void sameSeedSameWeightsAndBadConfigRejected() {
    Random r = new Random(11);
    int n = 50;
    float[] features = new float[n * 6];
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      labels[i] = i % 3;
      for (int j = 0; j < 6; j++) {
        features[i * 6 + j] = (float) (r.nextGaussian() + (j == labels[i] ? 2 : 0));
      }
    }
    Dataset data = Dataset.ofFloats("s", features, new int[] {6}, labels);
    int[] rows = IntStream.range(0, n).toArray();
    MlpTrainer trainer = new MlpTrainer(new MlpConfig(5, 3, 8, 0.1, 0.9, 1e-3, 42));
    MlpTrainer.Result a = trainer.train(data, rows, 1f);
    MlpTrainer.Result b = trainer.train(data, rows, 1f);
    assertArrayEquals(a.model().flatten(), b.model().flatten());
    assertTrue(a.epochLosses()[2] < a.epochLosses()[0], "the objective should fall");
    assertThrows(IllegalArgumentException.class, () -> new MlpConfig(5, 3, 8, 0.1, 1.0, 1e-3, 1));
    assertThrows(IllegalArgumentException.class, () -> trainer.train(data, new int[] {n}, 1f));
  }

  @Test
  void twoEpochsOnAFashionMnistSubsetClassifySensibly() throws Exception {
    Path images = FASHION.resolve("train-images-idx3-ubyte.gz");
    Path testImages = FASHION.resolve("t10k-images-idx3-ubyte.gz");
    assumeTrue(Files.isRegularFile(images) && Files.isRegularFile(testImages),
        "skipped: Fashion-MNIST not found under " + FASHION.toAbsolutePath()
            + " (this test reads real data from ../shared/data when it exists)");
    Dataset train = DataFiles.load(images);
    Dataset test = DataFiles.load(testImages);
    MlpTrainer trainer = new MlpTrainer(MlpConfig.defaults().withHidden(32).withEpochs(2));
    MlpTrainer.Result result = trainer.train(train, IntStream.range(0, 5000).toArray(), 1 / 255f);
    double accuracy = result.model().accuracy(test, IntStream.range(0, 2000).toArray(), 1 / 255f);
    System.out.printf("Fashion-MNIST, 5000 samples, 784-32-10, 2 epochs: test accuracy %.3f,"
        + " epoch objectives %s%n", accuracy, java.util.Arrays.toString(result.epochLosses()));
    // Chance is 0.10; this seeded run reaches 0.798.
    assertTrue(accuracy > 0.70, "test accuracy " + accuracy);
  }
}
