package dev.lethe.erase;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.core.LetheException;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The SSSE update θ + s·u and its guards, on the caller's thread (small P) and split over the
 * cores (P ≥ {@link Update#PARALLEL_ENTRIES}), against the entry-by-entry definition in double.
 */
class UpdateTest {
  @ParameterizedTest(name = "P = {0}")
  @ValueSource(ints = {1001, Update.PARALLEL_ENTRIES + 7})
  void theUpdateIsThetaPlusScaledStepEntryByEntry(int p) {
    Random r = new Random(p);
    float[] theta = new float[p];
    double[] u = new double[p];
    for (int j = 0; j < p; j++) {
      theta[j] = (float) r.nextGaussian();
      u[j] = r.nextGaussian();
    }
    double s = 1e-3;
    Update up = Update.of(theta, u, s, 1.0);
    assertTrue(up.weights().isDirect());
    assertEquals(ByteOrder.LITTLE_ENDIAN, up.weights().order());
    assertEquals(p * Float.BYTES, up.weights().limit());
    double updateSq = 0;
    double thetaSq = 0;
    for (int j = 0; j < p; j++) {
      assertEquals((float) (theta[j] + s * u[j]), up.weights().getFloat(j * Float.BYTES), 0f);
      updateSq += s * u[j] * s * u[j];
      thetaSq += (double) theta[j] * theta[j];
    }
    assertEquals(Math.sqrt(updateSq), up.norm(), 1e-12 * Math.sqrt(updateSq));
    assertEquals(Math.sqrt(thetaSq), up.thetaNorm(), 1e-12 * Math.sqrt(thetaSq));
    assertEquals(-1, up.firstNotFinite());
  }

  @ParameterizedTest(name = "P = {0}")
  @ValueSource(ints = {1001, Update.PARALLEL_ENTRIES + 7})
  void theGuardsNameTheFirstEntryThatIsNotFiniteAndRefuseLargeSteps(int p) {
    float[] theta = new float[p];
    java.util.Arrays.fill(theta, 1f);
    // overflows float32 though finite in double, and (later) a NaN: the first is reported,
    // at either place of the loop's pairs of entries
    for (int first : new int[] {p - 5, p - 4}) {
      double[] u = new double[p];
      u[first] = 1e300;
      u[p - 2] = Double.NaN;
      LetheException e = assertThrows(LetheException.class,
          () -> Update.of(theta, u, 1.0, 1e308));
      assertEquals(LetheException.Kind.FAILED_PRECONDITION, e.kind());
      assertTrue(e.getMessage().contains("parameter entry " + first), e.getMessage());
      assertEquals(first, Update.unchecked(theta, u, 1.0).firstNotFinite());
    }
    // |s·u| = 2·sqrt(P) > 1.5·|θ| = 1.5·sqrt(P)
    double[] big = new double[p];
    java.util.Arrays.fill(big, 2.0);
    LetheException ratio = assertThrows(LetheException.class,
        () -> Update.of(theta, big, 1.0, 1.5));
    assertEquals(LetheException.Kind.FAILED_PRECONDITION, ratio.kind());
    assertTrue(ratio.getMessage().contains("--max-update-ratio"), ratio.getMessage());
  }
}
