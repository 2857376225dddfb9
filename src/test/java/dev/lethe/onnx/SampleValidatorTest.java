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

  /**
   * A symbolic dimension after the batch (-1, a sequence length) takes any size, a different one
   * per request; the rank and the fixed dims are still checked. (Inputs sharing one dim_param must
   * agree: {@link SymbolicDims}, tested in TorchGradientTest.)
   */
  @Test
  void symbolicDimsAfterTheBatchTakeAnySize() {
    List<InputSpec> text = List.of(new InputSpec("tokens", false, new long[] {-1, -1}),
        new InputSpec("features", true, new long[] {-1, -1, 3}));
    for (int len : new int[] {1, 5, 40}) {
      Map<String, DenseTensor> in = new HashMap<>();
      in.put("tokens", DenseTensor.ofLongs(new long[] {2, len}, new long[2 * len]));
      in.put("features", DenseTensor.ofFloats(new long[] {2, len, 3}, new float[2 * len * 3]));
      assertEquals(2, SampleValidator.check(text, LossFunction.SOFTMAX_CROSS_ENTROPY, classes,
          new Samples(List.of(), in, DenseTensor.ofLongs(new long[] {2}, new long[] {0, 3})), true));
    }
    Map<String, DenseTensor> wrongRank = new HashMap<>();
    wrongRank.put("tokens", DenseTensor.ofLongs(new long[] {2, 5, 1}, new long[10]));
    wrongRank.put("features", DenseTensor.ofFloats(new long[] {2, 5, 3}, new float[30]));
    LetheException e = assertThrows(LetheException.class, () -> SampleValidator.check(text,
        LossFunction.SOFTMAX_CROSS_ENTROPY, classes, new Samples(List.of(), wrongRank, null), false));
    assertTrue(e.getMessage().startsWith("samples.inputs[tokens]: has shape [2, 5, 1], the model declares [-1, -1]"),
        e.getMessage());
    Map<String, DenseTensor> wrongFixed = new HashMap<>();
    wrongFixed.put("tokens", DenseTensor.ofLongs(new long[] {2, 5}, new long[10]));
    wrongFixed.put("features", DenseTensor.ofFloats(new long[] {2, 5, 4}, new float[40]));
    e = assertThrows(LetheException.class, () -> SampleValidator.check(text,
        LossFunction.SOFTMAX_CROSS_ENTROPY, classes, new Samples(List.of(), wrongFixed, null), false));
    assertTrue(e.getMessage().startsWith("samples.inputs[features]: has shape [2, 5, 4]"), e.getMessage());
  }
}
