package dev.lethe.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.core.DenseTensor;
import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * PyTorch exports ({@link TorchFixtures}) at opsets 13, 14 and 17: every torch parameter is
 * erasable (by name and by the default list), and Lethe's per-sample gradients equal torch
 * autograd's (computed in float64) to {@value TorchFixtures#REL_TOL} relative per parameter tensor
 * and sample (Lethe runs in float32).
 */
class TorchGradientTest {
  /** The families Lethe differentiates whole (see README, "Models known to work"). */
  static final List<String> FAMILIES = List.of("resnet", "mobilenet_v2", "mobilenet_v3", "gelu_mlp",
      "transformer", "lstm", "gru");

  static Stream<Arguments> cases() {
    return FAMILIES.stream().flatMap(f -> Stream.of(13, 14, 17).map(o -> Arguments.of(f, o)));
  }

  @ParameterizedTest(name = "{0} opset {1}")
  @MethodSource("cases")
  void gradientsEqualTorchAutograd(String family, int opset) {
    TorchFixtures.Reference ref = TorchFixtures.reference(family, opset);
    var model = TorchFixtures.model(family, opset);
    ModelGraph byDefault = ModelGraph.inspect(TorchFixtures.modelBytes(family, opset), "logits", List.of());
    assertEquals(new HashSet<>(ref.parameters()), new HashSet<>(byDefault.parameterNames()),
        "the default erasable list is every torch parameter");
    TorchFixtures.assertMatchesTorch(model, "logits", ref);
  }

  /** Text families exported with a dynamic sequence length 'S' (README, "Models known to work"). */
  static final List<String> DYNAMIC = List.of("text_cnn", "gru_dynamic", "transformer_dynamic");

  static Stream<Arguments> dynamicCases() {
    return DYNAMIC.stream().flatMap(f -> Stream.of(13, 14, 17).map(o -> Arguments.of(f, o)));
  }

  /**
   * A symbolic sequence length: samples of two lengths (one reference each) through one engine,
   * which builds a graph per length; both equal torch autograd, and InputSpec reports -1 for S.
   */
  @ParameterizedTest(name = "{0} opset {1}")
  @MethodSource("dynamicCases")
  void dynamicLengthGradientsEqualTorchAutograd(String family, int opset) {
    TorchFixtures.Reference ref = TorchFixtures.reference(family, opset, "ref");
    TorchFixtures.Reference ref2 = TorchFixtures.reference(family, opset, "ref2");
    ModelGraph byDefault = ModelGraph.inspect(TorchFixtures.modelBytes(family, opset), "logits", List.of());
    assertEquals(new HashSet<>(ref.parameters()), new HashSet<>(byDefault.parameterNames()),
        "the default erasable list is every torch parameter");
    for (InputSpec in : byDefault.inputs()) {
      assertArrayEquals(new long[] {-1, -1}, in.dims(), in.name());
    }
    long s1 = ref.samples().inputs().get("tokens").dims()[1];
    long s2 = ref2.samples().inputs().get("tokens").dims()[1];
    List<List<Long>> built = TorchFixtures.assertMatchesTorch(TorchFixtures.model(family, opset), "logits",
        List.of(ref, ref2));
    assertEquals(List.of(List.of(SymbolicDims.PROBE_SIZE), List.of(s1), List.of(s2)), built,
        "one graph per length: the registration's probe, then each length on first use");
  }

  /**
   * Inputs that share the symbolic 'S' (tokens and mask) with different lengths: INVALID_ARGUMENT
   * naming the second input and its dimension, before any run; the engine's cache is unchanged.
   */
  @Test
  void mixedLengthsInOneBatchAreRefused() {
    var model = TorchFixtures.model("gru_dynamic", 17);
    TorchFixtures.Reference ref = TorchFixtures.reference("gru_dynamic", 17);
    List<String> params = ref.parameters();
    GradientGraph graph = GradientGraph.build(model, "logits", LossFunction.SOFTMAX_CROSS_ENTROPY, params, 0);
    DenseTensor tokens = ref.samples().inputs().get("tokens");
    long n = tokens.dims()[0];
    Map<String, DenseTensor> inputs = new LinkedHashMap<>();
    inputs.put("tokens", tokens);
    inputs.put("mask", DenseTensor.ofFloats(new long[] {n, 3}, new float[(int) n * 3]));
    Samples mixed = new Samples(List.of(), inputs, ref.samples().labels());
    try (GradientEngine engine = new GradientEngine(graph)) {
      List<List<Long>> before = engine.sizesBuilt();
      LetheException e = assertThrows(LetheException.class,
          () -> engine.compute(mixed, GradCheck.direct(GradCheck.initialValues(model, params))));
      assertEquals(LetheException.Kind.INVALID_ARGUMENT, e.kind());
      assertEquals("samples.inputs[mask]: dimension 1 ('S') is 3 but samples.inputs[tokens] dimension 1 is "
          + tokens.dims()[1] + "; the samples of one request share the model's symbolic dimensions", e.getMessage());
      assertThrows(LetheException.class, () -> engine.checkSizes(mixed));
      assertEquals(before, engine.sizesBuilt());
    }
  }

  /** At most {@link GradientEngine#SIZES_KEPT} lengths stay built; the least recently used goes. */
  @Test
  void lengthCacheIsBounded() {
    var model = TorchFixtures.model("text_cnn", 17);
    TorchFixtures.Reference ref = TorchFixtures.reference("text_cnn", 17);
    List<String> params = ref.parameters();
    GradientGraph graph = GradientGraph.build(model, "logits", LossFunction.SOFTMAX_CROSS_ENTROPY, params, 0);
    var weights = GradCheck.direct(GradCheck.initialValues(model, params));
    try (GradientEngine engine = new GradientEngine(graph)) {
      GradientResult first = null;
      for (int len = 2; len < 2 + GradientEngine.SIZES_KEPT + 2; len++) {
        GradientResult r = engine.compute(tokens(2, len), weights);
        first = len == 2 ? r : first;
      }
      List<List<Long>> kept = engine.sizesBuilt();
      assertEquals(GradientEngine.SIZES_KEPT, kept.size());
      assertEquals(List.of((long) (1 + GradientEngine.SIZES_KEPT + 2)), kept.get(kept.size() - 1));
      assertTrue(!kept.contains(List.of(2L)), kept.toString());
      // an evicted length is rebuilt and computes the same
      GradientResult again = engine.compute(tokens(2, 2), weights);
      assertArrayEquals(first.gradients(), again.gradients(), 0f);
    }
  }

  /** Concurrent first calls at one new length wait for one build and get the same gradients. */
  @Test
  void concurrentFirstCallsAtALengthBuildOnce() throws Exception {
    var model = TorchFixtures.model("text_cnn", 14);
    List<String> params = TorchFixtures.reference("text_cnn", 14).parameters();
    GradientGraph graph = GradientGraph.build(model, "logits", LossFunction.SOFTMAX_CROSS_ENTROPY, params, 0);
    var weights = GradCheck.direct(GradCheck.initialValues(model, params));
    int threads = 4;
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
    try (GradientEngine engine = new GradientEngine(graph)) {
      java.util.concurrent.CountDownLatch start = new java.util.concurrent.CountDownLatch(1);
      List<java.util.concurrent.Future<GradientResult>> calls = new java.util.ArrayList<>();
      for (int t = 0; t < threads; t++) {
        calls.add(pool.submit(() -> {
          start.await();
          return engine.compute(tokens(3, 11), weights);
        }));
      }
      start.countDown();
      float[] first = calls.get(0).get().gradients();
      for (var c : calls) {
        assertArrayEquals(first, c.get().gradients(), 0f);
      }
      assertEquals(1, engine.graphsBuilt());
      assertEquals(List.of(List.of(SymbolicDims.PROBE_SIZE), List.of(11L)), engine.sizesBuilt());
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * The gradient memory a call reserves counts the activations at the request's length: one
   * sample of a length whose activations exceed the pool is RESOURCE_EXHAUSTED (field samples)
   * before any run, while a shorter one runs in the same pool.
   */
  @Test
  void memoryIsCheckedAtTheRequestsLength() {
    var model = TorchFixtures.model("text_cnn", 17);
    List<String> params = TorchFixtures.reference("text_cnn", 17).parameters();
    GradientGraph graph = GradientGraph.build(model, "logits", LossFunction.SOFTMAX_CROSS_ENTROPY, params, 0);
    long p = graph.parameterCount();
    long at16 = graph.specialise(List.of(16L)).activationFloats();
    long at2000 = graph.specialise(List.of(2000L)).activationFloats();
    assertTrue(at2000 > 100 * at16, at16 + " vs " + at2000);
    long oneSampleAt16 = (GradientEngine.RUN_BLOCKS * p + at16) * Float.BYTES;
    dev.lethe.core.MemoryPool pool = new dev.lethe.core.MemoryPool("gradient buffer", "--gradient-memory-bytes",
        2 * oneSampleAt16);
    var weights = GradCheck.direct(GradCheck.initialValues(model, params));
    try (GradientEngine engine = new GradientEngine(graph, pool, oneSampleAt16)) {
      assertEquals(2, engine.compute(tokens(2, 16), weights).size());
      LetheException e = assertThrows(LetheException.class, () -> engine.compute(tokens(1, 2000), weights));
      assertEquals(LetheException.Kind.RESOURCE_EXHAUSTED, e.kind());
      assertTrue(e.getMessage().startsWith("samples: gradient buffers of 1 samples x " + p + " parameters and "
          + at2000 + " activations per sample at samples.inputs[tokens] dimension 1 ('S') = 2000"), e.getMessage());
      assertEquals(0, pool.used());
    }
  }

  private static Samples tokens(int n, int len) {
    long[] t = new long[n * len];
    for (int i = 0; i < t.length; i++) {
      t[i] = (i * 7 + len) % 20;
    }
    return new Samples(List.of(), Map.of("tokens", DenseTensor.ofLongs(new long[] {n, len}, t)),
        DenseTensor.ofLongs(new long[] {n}, new long[n]));
  }
}
