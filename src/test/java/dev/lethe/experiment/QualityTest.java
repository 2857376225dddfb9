package dev.lethe.experiment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The evaluation's measures against hand-computed values. */
class QualityTest {
  static final double EXACT = 1e-12;

  @Test
  void similarityRatioIsZeroAtTheOriginalOneAtTheRetrainedAndAHalfWhenAllAgree() {
    double[] star = {0.9, 0.8};
    double[] retrained = {0.5, 0.6};
    assertEquals(0, Quality.similarityRatio(star, star, retrained), EXACT);
    assertEquals(1, Quality.similarityRatio(retrained, star, retrained), EXACT);
    // hat = (0.6, 0.7): D(hat, star) = (0.3 + 0.1)/2 = 0.2, D(hat, retrained) = (0.1 + 0.1)/2 = 0.1
    assertEquals(0.2 / 0.3, Quality.similarityRatio(new double[] {0.6, 0.7}, star, retrained), EXACT);
    assertEquals(0.5, Quality.similarityRatio(star, star, star), EXACT);
  }

  @Test
  void attributesThatDoNotVaryOnTheRowsCountAucZero() {
    // 3 rows, 2 attributes: attribute 0 varies (scores rank the positive first), attribute 1 is
    // present in every row
    double[] p = {0.9, 0.2, 0.1, 0.3, 0.5, 0.7};
    float[] y = {1, 1, 0, 1, 0, 1};
    assertArrayEquals(new double[] {1.0, 0.0}, Quality.attributeAucs(p, y, 3, 2), EXACT);
  }

  @Test
  void normalisedDistanceIsTheClosedForm() {
    double[] star = {1, 2};
    double[] retrained = {0, 0};
    double[] step = {-1, -1};
    // θ̂ = (1 − ε, 2 − ε): at ε = 1, |(0, 1)| / |(1, 2)| = 1/√5
    assertEquals(1 / Math.sqrt(5), Quality.normalisedDistance(star, step, 1, retrained), EXACT);
    assertEquals(1, Quality.normalisedDistance(star, step, 0, retrained), EXACT);
  }

  @Test
  void membershipAucSeparatesLowMemberLosses() {
    assertEquals(1, Quality.membershipAuc(new double[] {0.1, 0.2}, new double[] {0.5, 0.9}), EXACT);
    assertEquals(0.5, Quality.membershipAuc(new double[] {0.3, 0.3}, new double[] {0.3, 0.3}), EXACT);
    // members {0.1, 0.6}, non-members {0.5}: one of two member/non-member pairs ordered right
    assertEquals(0.5, Quality.membershipAuc(new double[] {0.1, 0.6}, new double[] {0.5}), EXACT);
  }

  @Test
  void logGridSpansItsDecades() {
    double[] g = Quality.logGrid(-1, 1, 5);
    assertEquals(0.1, g[0], EXACT);
    assertEquals(1, g[2], EXACT);
    assertEquals(10, g[4], 1e-12 * 10);
  }
}
