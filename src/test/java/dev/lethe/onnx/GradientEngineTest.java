package dev.lethe.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import dev.lethe.core.DenseTensor;
import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * GradientEngine behaviour: chunking, cotangent seeding, norms, threading, close. (Samples are
 * checked once, before the engine, by SampleValidator: see SampleValidatorTest.)
 */
class GradientEngineTest {
  private static final float TOL = 1e-5f;

  private final Random rnd = new Random(51);
  private final GradCheck.Case mlp = ModelGradientTest.mlp(rnd, LossFunction.SOFTMAX_CROSS_ENTROPY, 0.0);
  private final GradientGraph graph = GradientGraph.build(mlp.model(), "z", mlp.loss(), mlp.params(), 0.0);
  private final List<FloatBuffer> params = GradCheck.direct(GradCheck.initialValues(mlp.model(), mlp.params()));

  private Samples batch(int n) {
    return GradCheck.batch(rnd, n, LossFunction.SOFTMAX_CROSS_ENTROPY, 4, "x", new long[] {6});
  }

  @Test
  void chunkedRunsEqualOneRun() {
    Samples b = batch(7);
    long p = graph.parameterCount();
    try (GradientEngine whole = new GradientEngine(graph);
        GradientEngine chunked = new GradientEngine(graph, 3 * p * 4)) {
      assertEquals(3, chunked.chunkSize());
      GradientResult a = whole.compute(b, params);
      GradientResult c = chunked.compute(b, params);
      assertArrayEquals(a.gradients(), c.gradients(), TOL);
      assertArrayEquals(a.losses(), c.losses(), TOL);
    }
  }

  @Test
  void buffersAreSizedToTheRequestTakenFromTheSharedPoolAndReturned() {
    long p = graph.parameterCount();
    dev.lethe.core.MemoryPool pool = new dev.lethe.core.MemoryPool("gradient buffer",
        "--gradient-memory-bytes", 100 * p * 4 * GradientEngine.RUN_BLOCKS);
    try (GradientEngine a = new GradientEngine(graph, pool, 50 * p * 4);
        GradientEngine b = new GradientEngine(graph, pool, 50 * p * 4)) {
      assertEquals(50, a.chunkSize());
      a.compute(batch(7), params);
      assertEquals(GradientEngine.RUN_BLOCKS * 7 * p * 4, pool.peak()); // min(rows, chunk)
      b.compute(batch(120), params);
      assertEquals(GradientEngine.RUN_BLOCKS * 50 * p * 4, pool.peak());
      assertEquals(0, pool.used()); // nothing outlives the call
    }
    dev.lethe.core.MemoryPool tiny = new dev.lethe.core.MemoryPool("gradient buffer",
        "--gradient-memory-bytes", GradientEngine.RUN_BLOCKS * p * 4 - 1);
    try (GradientEngine e = new GradientEngine(graph, tiny, p * 4)) {
      LetheException refused = assertThrows(LetheException.class, () -> e.compute(batch(2), params));
      assertEquals(LetheException.Kind.RESOURCE_EXHAUSTED, refused.kind());
      assertTrue(refused.getMessage().contains("--gradient-memory-bytes"), refused.getMessage());
      assertEquals(0, tiny.used());
    }
  }

  @Test
  void eachRowEqualsTheSingleSampleRun() {
    Samples b = batch(4);
    try (GradientEngine e = new GradientEngine(graph)) {
      GradientResult all = e.compute(b, params);
      int p = (int) graph.parameterCount();
      for (int s = 0; s < 4; s++) {
        GradientResult one = e.compute(row(b, s), params);
        float[] expected = java.util.Arrays.copyOfRange(all.gradients(), s * p, (s + 1) * p);
        assertArrayEquals(expected, one.gradients(), TOL, "sample " + s);
      }
    }
  }

  @Test
  void cotangentAtLogitsReproducesTheLossGradient() {
    Samples b = batch(5);
    try (GradientEngine e = new GradientEngine(graph)) {
      GradientResult r = e.compute(b, params);
      int c = 4;
      float[] v = new float[5 * c];
      for (int s = 0; s < 5; s++) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < c; j++) {
          max = Math.max(max, r.logits()[s * c + j]);
        }
        double sum = 0;
        for (int j = 0; j < c; j++) {
          sum += Math.exp(r.logits()[s * c + j] - max);
        }
        for (int j = 0; j < c; j++) {
          v[s * c + j] = (float) (Math.exp(r.logits()[s * c + j] - max) / sum
              - (j == b.labels().longs()[s] ? 1 : 0));
        }
      }
      GradientResult cot = e.computeWithCotangent(b, params, v);
      assertNull(cot.losses());
      assertArrayEquals(r.gradients(), cot.gradients(), 1e-5f);
    }
  }

  @Test
  void normsOnlyPathMatchesRowNorms() {
    Samples b = batch(3);
    try (GradientEngine e = new GradientEngine(graph)) {
      GradientResult full = e.compute(b, params);
      GradientResult norms = e.norms(b, params);
      assertNull(norms.gradients());
      int p = (int) graph.parameterCount();
      for (int s = 0; s < 3; s++) {
        double sq = 0;
        for (int k = 0; k < p; k++) {
          sq += (double) full.gradients()[s * p + k] * full.gradients()[s * p + k];
        }
        assertEquals(Math.sqrt(sq), norms.norms()[s], 1e-4 * Math.sqrt(sq));
      }
    }
  }

  @Test
  void concurrentCallsAgree() throws Exception {
    Samples b = batch(6);
    try (GradientEngine e = new GradientEngine(graph, 2 * graph.parameterCount() * 4)) {
      GradientResult expected = e.compute(b, params);
      ExecutorService pool = Executors.newFixedThreadPool(4);
      try {
        List<Future<GradientResult>> fs = new java.util.ArrayList<>();
        for (int i = 0; i < 8; i++) {
          fs.add(pool.submit(() -> e.compute(b, params)));
        }
        for (Future<GradientResult> f : fs) {
          assertArrayEquals(expected.gradients(), f.get().gradients(), 0f);
        }
      } finally {
        pool.shutdownNow();
      }
    }
  }

  @Test
  void useAfterCloseIsIllegalState() {
    GradientEngine e = new GradientEngine(graph);
    e.close();
    e.close();
    assertThrows(IllegalStateException.class, () -> e.compute(batch(1), params));
  }

  @Test
  void malformedParametersAreACallerBug() {
    try (GradientEngine e = new GradientEngine(graph)) {
      Samples good = batch(2);
      assertThrows(IllegalArgumentException.class, () -> e.compute(good, params.subList(0, 2)));
      assertThrows(IllegalArgumentException.class,
          () -> e.compute(good, List.of(FloatBuffer.allocate(30), params.get(1), params.get(2), params.get(3))));
    }
  }

  private static Samples row(Samples b, int s) {
    DenseTensor x = b.inputs().get("x");
    float[] v = java.util.Arrays.copyOfRange(x.floats(), s * 6, (s + 1) * 6);
    return new Samples(List.of(), Map.of("x", DenseTensor.ofFloats(new long[] {1, 6}, v)),
        DenseTensor.ofLongs(new long[] {1}, new long[] {b.labels().longs()[s]}));
  }
}
