package dev.lethe.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import dev.lethe.core.LossFunction;
import dev.lethe.testing.Fixtures;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Which weights are Kronecker-factored layers, and the FACTORS graph: its outputs, and that it
 * computes no per-sample outer product of a layer's weight (its nodes are pruned to its outputs).
 * The factors' values are checked against the block path's gradients in KroneckerFisherTest.
 */
class DenseLayersTest {
  private final Random r = new Random(5);

  @Test
  void gemmAndMatMulWeightsAreLayersAndTheirBiasesFoldWhenErasable() {
    OnnxMl.ModelProto m = new OnnxBuilder("m").floatInput("x", -1, 4)
        .initializer("W1", Fixtures.random(r, 12), 4, 3).initializer("b1", Fixtures.random(r, 3), 3)
        .initializer("W2", Fixtures.random(r, 6), 3, 2).initializer("b2", Fixtures.random(r, 2), 2)
        .node("Gemm", new String[] {"x", "W1", "b1"}, new String[] {"h"}, "alpha", 0.5f, "beta", 2f)
        .node("Tanh", "t", "h")
        .node("MatMul", "m2", "t", "W2")
        .node("Add", "z", "m2", "b2")
        .floatOutput("z", -1, 2).build();
    GradientGraph g = GradientGraph.build(m, "z", LossFunction.SOFTMAX_CROSS_ENTROPY,
        List.of("W1", "b1", "W2", "b2"), 0.0);
    assertEquals(List.of(new DenseLayer(0, 1, 3, 4, false, 0.5f, 2f, "h"),
        new DenseLayer(2, -1, 2, 3, false, 1f, 1f, "m2")), g.layers());
    assertEquals(List.of(3), java.util.Arrays.stream(g.otherParameters()).boxed().toList());
    OnnxMl.GraphProto factors = g.model(GradientGraph.Seed.FACTORS).getGraph();
    Set<String> outputs = factors.getOutputList().stream().map(OnnxMl.ValueInfoProto::getName)
        .collect(Collectors.toSet());
    assertEquals(Set.of("lethe_kin_0", "lethe_kout_0", "lethe_kin_1", "lethe_kout_1",
        GradientGraph.GRAD_PREFIX + 3, GradientGraph.LOGITS), outputs);
    // no node makes a [N, in, out] tensor: no Unsqueeze-Mul outer product is left
    long cotangentMuls = g.model(GradientGraph.Seed.COTANGENT).getGraph().getNodeList().stream()
        .filter(n -> n.getOpType().equals("Unsqueeze")).count();
    long factorMuls = factors.getNodeList().stream().filter(n -> n.getOpType().equals("Unsqueeze")).count();
    assertTrue(factorMuls < cotangentMuls, factorMuls + " vs " + cotangentMuls);
    assertTrue(factors.getNodeCount() < g.model(GradientGraph.Seed.COTANGENT).getGraph().getNodeCount());
  }

  @Test
  void tiedTransposedOrUnerasableUsesAreNotLayers() {
    float[] w = Fixtures.random(r, 16);
    OnnxMl.ModelProto m = new OnnxBuilder("m").floatInput("x", -1, 4)
        .initializer("W", w, 4, 4).initializer("V", Fixtures.random(r, 8), 4, 2)
        .node("Gemm", new String[] {"x", "W"}, new String[] {"h"})
        .node("Gemm", new String[] {"h", "W"}, new String[] {"h2"}, "transB", 1L)
        .node("Gemm", new String[] {"h2", "V"}, new String[] {"z"})
        .floatOutput("z", -1, 2).build();
    GradientGraph g = GradientGraph.build(m, "z", LossFunction.SOFTMAX_CROSS_ENTROPY,
        List.of("W"), 0.0);
    assertTrue(g.layers().isEmpty(), g.layers().toString());
    assertFalse(g.otherParameters().length == 0);
  }
}
