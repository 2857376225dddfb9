package dev.lethe.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.core.DenseTensor;
import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The one sample check: every refusal names the field, as INVALID_ARGUMENT. */
class SampleValidatorTest {
  private final Random rnd = new Random(51);
  /** The MLP of GradientEngineTest: input x [N, 6], 4 classes. */
  private final List<InputSpec> inputs = List.of(new InputSpec("x", true, new long[] {-1, 6}));
  private final long[] classes = {4};

  private Samples batch(int n, LossFunction loss) {
    return GradCheck.batch(rnd, n, loss, 4, "x", new long[] {6});
  }

  private int check(LossFunction loss, Samples s) {
    return SampleValidator.check(inputs, loss, classes, s, true);
  }

  @Test
  void aGoodBatchPassesAndGivesItsSize() {
    assertEquals(2, check(LossFunction.SOFTMAX_CROSS_ENTROPY, batch(2, LossFunction.SOFTMAX_CROSS_ENTROPY)));
    Samples unlabelled = new Samples(List.of(), batch(3, LossFunction.SOFTMAX_CROSS_ENTROPY).inputs(), null);
    assertEquals(3, SampleValidator.check(inputs, LossFunction.SOFTMAX_CROSS_ENTROPY, classes, unlabelled, false));
  }

  @Test
  void validationNamesTheField() {
    LossFunction ce = LossFunction.SOFTMAX_CROSS_ENTROPY;
    Samples good = batch(2, ce);
    DenseTensor x = good.inputs().get("x");
    assertInvalid("samples.labels", () -> check(ce,
        new Samples(List.of(), good.inputs(), DenseTensor.ofLongs(new long[] {2}, new long[] {0, 4}))));
    assertInvalid("samples.labels", () -> check(ce,
        new Samples(List.of(), good.inputs(), DenseTensor.ofFloats(new long[] {2}, new float[] {0, 1}))));
    assertInvalid("samples.labels", () -> check(ce,
        new Samples(List.of(), good.inputs(), DenseTensor.ofLongs(new long[] {3}, new long[] {0, 1, 2}))));
    assertInvalid("samples.labels", () -> check(ce, new Samples(List.of(), good.inputs(), null)));
    assertInvalid("samples.inputs[x]", () -> check(ce, new Samples(List.of(),
        Map.of("x", DenseTensor.ofFloats(new long[] {2, 5}, new float[10])), good.labels())));
    assertInvalid("samples.inputs[x]", () -> check(ce, new Samples(List.of(),
        Map.of("x", DenseTensor.ofLongs(x.dims(), new long[12])), good.labels())));
    float[] nan = x.floats().clone();
    nan[3] = Float.NaN;
    assertInvalid("samples.inputs[x]", () -> check(ce, new Samples(List.of(),
        Map.of("x", DenseTensor.ofFloats(x.dims(), nan)), good.labels())));
    assertInvalid("samples.inputs[x]", () -> check(ce, new Samples(List.of(), Map.of(), good.labels())));
    Map<String, DenseTensor> extra = new HashMap<>(good.inputs());
    extra.put("y", x);
    assertInvalid("samples.inputs[y]", () -> check(ce, new Samples(List.of(), extra, good.labels())));
    assertInvalid("samples.ids", () -> check(ce, new Samples(List.of("a"), good.inputs(), good.labels())));
    assertInvalid("samples", () -> check(ce, new Samples(List.of(),
        Map.of("x", DenseTensor.ofFloats(new long[] {0, 6}, new float[0])), good.labels())));
  }

  @Test
  void bceTargetsOutsideUnitIntervalRefused() {
    LossFunction bce = LossFunction.SIGMOID_BINARY_CROSS_ENTROPY;
    Samples b = batch(2, bce);
    float[] y = b.labels().floats().clone();
    y[0] = 1.5f;
    assertInvalid("samples.labels", () -> check(bce,
        new Samples(List.of(), b.inputs(), DenseTensor.ofFloats(b.labels().dims(), y))));
  }

  private static void assertInvalid(String field, org.junit.jupiter.api.function.Executable call) {
    LetheException e = assertThrows(LetheException.class, call);
    assertEquals(LetheException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().startsWith(field + ":"), e.getMessage());
  }
}
