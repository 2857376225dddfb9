package dev.lethe.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.core.LossFunction;
import dev.lethe.core.DenseTensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MetricsTest {
  private static final double EXACT = 1e-12;
  private static final double FLOAT_LOSS = 1e-5;

  /** AUC as the fraction of (positive, negative) pairs ordered right, ties counting one half. */
  private static double pairwiseAuc(double[] s, boolean[] pos) {
    double good = 0;
    long pairs = 0;
    for (int i = 0; i < s.length; i++) {
      for (int j = 0; j < s.length; j++) {
        if (pos[i] && !pos[j]) {
          pairs++;
          good += s[i] > s[j] ? 1 : (s[i] == s[j] ? 0.5 : 0);
        }
      }
    }
    return good / pairs;
  }

  @Test
  void rocAucMatchesPairwiseCountWithTies() {
    Random r = new Random(5);
    for (int trial = 0; trial < 50; trial++) {
      int n = 2 + r.nextInt(40);
      double[] s = new double[n];
      boolean[] pos = new boolean[n];
      for (int i = 0; i < n; i++) {
        s[i] = r.nextInt(6); // many ties
        pos[i] = i < 1 || (i > 1 && r.nextBoolean());
      }
      pos[1] = false;
      assertEquals(pairwiseAuc(s, pos), Metrics.rocAuc(s, pos), EXACT);
    }
    assertTrue(Double.isNaN(Metrics.rocAuc(new double[] {1, 2}, new boolean[] {true, true})));
  }

  @Test
  void sigmoidCrossEntropyMatchesDirectFormula() {
    float[] z = {2.5f, -1f, 40f, -40f};
    float[] y = {1f, 0f, 0f, 1f};
    Evaluation e = Metrics.evaluate(LossFunction.SIGMOID_BINARY_CROSS_ENTROPY, z, 2,
        DenseTensor.ofFloats(new long[] {2, 2}, y), 1);
    double s0 = 1 / (1 + Math.exp(-2.5));
    double s1 = 1 / (1 + Math.exp(1));
    assertEquals(-Math.log(s0) - Math.log(1 - s1), e.losses()[0], FLOAT_LOSS);
    // Saturated logits: stable form gives 40 + 40 (no log(0) = infinity).
    assertEquals(80, e.losses()[1], FLOAT_LOSS);
    assertEquals(0.5, e.accuracy(), EXACT);
  }

  @Test
  void meanSquaredErrorAveragesOverOutputs() {
    Evaluation e = Metrics.evaluate(LossFunction.MEAN_SQUARED_ERROR, new float[] {1, 2, 3, 4}, 2,
        DenseTensor.ofFloats(new long[] {2, 2}, new float[] {0, 0, 3, 6}), 1);
    assertEquals(2.5, e.losses()[0], EXACT);
    assertEquals(2.0, e.losses()[1], EXACT);
    assertEquals(2.25, e.meanLoss(), EXACT);
    assertTrue(Double.isNaN(e.accuracy()));
  }

  @Test
  void softmaxCrossEntropyIsStableForLargeLogits() {
    Evaluation e = Metrics.evaluate(LossFunction.SOFTMAX_CROSS_ENTROPY, new float[] {1000, 0, -1000}, 1,
        DenseTensor.ofLongs(new long[] {1}, new long[] {1}), 1);
    assertEquals(1000, e.losses()[0], FLOAT_LOSS);
    assertEquals(0, e.accuracy(), EXACT);
  }
}
