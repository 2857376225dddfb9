package dev.lethe.onnx;

import static dev.lethe.onnx.GradCheck.randn;
import static dev.lethe.onnx.GradCheck.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import java.util.List;
import java.util.Random;
import ai.onnx.proto.OnnxMl;
import org.junit.jupiter.api.Test;
import org.tribuo.MutableDataset;
import org.tribuo.classification.Label;
import org.tribuo.classification.LabelFactory;
import org.tribuo.classification.sgd.linear.LogisticRegressionTrainer;
import org.tribuo.impl.ArrayExample;
import org.tribuo.provenance.SimpleDataSourceProvenance;

/** Whole models checked against finite differences (see {@link GradCheck} for tolerances). */
class ModelGradientTest {

  static GradCheck.Case mlp(Random rnd, LossFunction loss, double l2) {
    OnnxBuilder b = new OnnxBuilder("mlp")
        .floatInput("x", -1, 6)
        .initializer("W1", randn(rnd, 0.5, 5, 6), 5, 6)
        .initializer("b1", randn(rnd, 0.1, 5), 5)
        .initializer("W2", randn(rnd, 0.5, 5, 4), 5, 4)
        .initializer("b2", randn(rnd, 0.1, 4), 4)
        .node("Gemm", new String[] {"x", "W1", "b1"}, new String[] {"h"}, "transB", 1L)
        .node("Tanh", "a", "h")
        .node("MatMul", "m", "a", "W2")
        .node("Add", "z", "m", "b2")
        .floatOutput("z", -1, 4);
    return new GradCheck.Case(b.build(), "z", loss, List.of("W1", "b1", "W2", "b2"), l2);
  }

  @Test
  void mlpEveryLoss() {
    for (LossFunction loss : LossFunction.values()) {
      Random rnd = new Random(1 + loss.ordinal());
      GradCheck.Case c = mlp(rnd, loss, 0.01);
      Samples batch = GradCheck.batch(rnd, 4, loss, 4, "x", new long[] {6});
      GradCheck.verify(c, batch, 12, rnd);
    }
  }

  @Test
  void perSampleGradientsDifferBetweenSamples() {
    Random rnd = new Random(7);
    GradCheck.Case c = mlp(rnd, LossFunction.SOFTMAX_CROSS_ENTROPY, 0);
    Samples batch = GradCheck.batch(rnd, 3, c.loss(), 4, "x", new long[] {6});
    GradientResult r = GradCheck.verify(c, batch, 4, rnd);
    int p = (int) r.parameterCount();
    assertEquals(6 * 5 + 5 + 5 * 4 + 4, p);
    boolean differ = false;
    for (int k = 0; k < p; k++) {
      differ |= r.gradients()[k] != r.gradients()[p + k];
    }
    assertTrue(differ, "rows of different samples must differ");
    assertFalse(Float.isNaN(r.norms()[0]));
  }

  /** Conv → BatchNorm → Relu → MaxPool → Conv → Relu → AveragePool → GlobalAveragePool → Gemm. */
  static GradCheck.Case cnn(Random rnd) {
    OnnxBuilder b = new OnnxBuilder("cnn")
        .floatInput("x", -1, 1, 8, 8)
        .initializer("W1", randn(rnd, 0.5, 3, 1, 3, 3), 3, 1, 3, 3)
        .initializer("b1", randn(rnd, 0.1, 3), 3)
        .initializer("s", uniform(rnd, 0.5, 1.5, 3), 3)
        .initializer("bb", randn(rnd, 0.1, 3), 3)
        .initializer("m", randn(rnd, 0.1, 3), 3)
        .initializer("v", uniform(rnd, 0.5, 1.5, 3), 3)
        .initializer("W2", randn(rnd, 0.4, 4, 3, 2, 2), 4, 3, 2, 2)
        .initializer("W3", randn(rnd, 0.5, 5, 4), 5, 4)
        .initializer("b3", randn(rnd, 0.1, 5), 5)
        .node("Conv", new String[] {"x", "W1", "b1"}, new String[] {"c1"}, "pads", new long[] {1, 1, 1, 1})
        .node("BatchNormalization", new String[] {"c1", "s", "bb", "m", "v"}, new String[] {"n1"})
        .node("Relu", "r1", "n1")
        .node("MaxPool", new String[] {"r1"}, new String[] {"p1"}, "kernel_shape", new long[] {2, 2},
            "strides", new long[] {2, 2})
        .node("Conv", new String[] {"p1", "W2"}, new String[] {"c2"}, "strides", new long[] {1, 1})
        .node("Tanh", "r2", "c2")
        .node("AveragePool", new String[] {"r2"}, new String[] {"a2"}, "kernel_shape", new long[] {2, 2})
        .node("GlobalAveragePool", "g2", "a2")
        .node("Flatten", "f", "g2")
        .node("Gemm", new String[] {"f", "W3", "b3"}, new String[] {"z"}, "transB", 1L);
    return new GradCheck.Case(b.build(), "z", LossFunction.SOFTMAX_CROSS_ENTROPY,
        List.of("W1", "b1", "s", "bb", "m", "v", "W2", "W3", "b3"), 0.001);
  }

  @Test
  void smallCnnWithBatchNormAndPooling() {
    Random rnd = new Random(31);
    GradCheck.Case c = cnn(rnd);
    GradCheck.verify(c, GradCheck.batch(rnd, 3, c.loss(), 5, "x", new long[] {1, 8, 8}), 10, rnd);
  }

  @Test
  void frozenPrefixWithUnsupportedOpsIsForwardOnly() {
    Random rnd = new Random(32);
    OnnxBuilder b = new OnnxBuilder("frozen")
        .floatInput("x", -1, 6)
        .initializer("F", randn(rnd, 0.5, 6, 5), 6, 5)
        .initializer("W", randn(rnd, 0.5, 5, 3), 5, 3)
        .initializer("c", randn(rnd, 0.1, 3), 3)
        .node("MatMul", "h", "x", "F")
        .node("Erf", "e", "h")
        .node("Cos", "k", "e")
        .node("Gemm", new String[] {"k", "W", "c"}, new String[] {"z"});
    GradCheck.Case c = new GradCheck.Case(b.build(), "z", LossFunction.SIGMOID_BINARY_CROSS_ENTROPY, List.of("W", "c"), 0.01);
    GradCheck.verify(c, GradCheck.batch(rnd, 3, c.loss(), 3, "x", new long[] {6}), 20, rnd);
  }

  @Test
  void sharedParameterAccumulates() {
    Random rnd = new Random(33);
    OnnxBuilder b = new OnnxBuilder("shared")
        .floatInput("x", -1, 4)
        .initializer("W", randn(rnd, 0.5, 4, 4), 4, 4)
        .node("MatMul", "h1", "x", "W")
        .node("Tanh", "a1", "h1")
        .node("MatMul", "z", "a1", "W");
    GradCheck.Case c = new GradCheck.Case(b.build(), "z", LossFunction.SOFTMAX_CROSS_ENTROPY, List.of("W"));
    GradCheck.verify(c, GradCheck.batch(rnd, 3, c.loss(), 4, "x", new long[] {4}), 16, rnd);
  }

  @Test
  void logitsBeforeAFinalSoftmax() {
    Random rnd = new Random(34);
    OnnxBuilder b = new OnnxBuilder("softmax_end")
        .floatInput("x", -1, 5)
        .initializer("W", randn(rnd, 0.5, 5, 3), 5, 3)
        .node("MatMul", "z", "x", "W")
        .node("Softmax", new String[] {"z"}, new String[] {"probs"}, "axis", 1L)
        .floatOutput("probs", -1, 3);
    GradCheck.Case c = new GradCheck.Case(b.build(), "z", LossFunction.SOFTMAX_CROSS_ENTROPY, List.of("W"));
    GradCheck.verify(c, GradCheck.batch(rnd, 4, c.loss(), 3, "x", new long[] {5}), 15, rnd);
  }

  @Test
  void batchFixedToOneIsMadeSymbolic() {
    Random rnd = new Random(35);
    OnnxBuilder b = new OnnxBuilder("fixed1")
        .floatInput("x", 1, 2, 3)
        .int64Initializer("flat", new long[] {1, 6}, 2)
        .initializer("W", randn(rnd, 0.5, 6, 3), 6, 3)
        .node("Reshape", "f", "x", "flat")
        .node("MatMul", "z", "f", "W");
    GradCheck.Case c = new GradCheck.Case(b.build(), "z", LossFunction.SOFTMAX_CROSS_ENTROPY, List.of("W"));
    GradientGraph g = GradientGraph.build(c.model(), "z", c.loss(), c.params(), 0);
    assertFalse(g.perSample(), "a constant Reshape [1, -1] can be relaxed");
    GradCheck.verify(c, GradCheck.batch(rnd, 3, c.loss(), 3, "x", new long[] {2, 3}), 18, rnd);
  }

  @Test
  void batchFixedToOneThatCannotBeRelaxedRunsPerSample() {
    Random rnd = new Random(36);
    // the Reshape target is computed, so it cannot be rewritten: [1, -1] would merge samples
    OnnxBuilder b = new OnnxBuilder("fixed1_computed")
        .floatInput("x", 1, 2, 3)
        .int64Initializer("one", new long[] {1}, 1)
        .int64Initializer("rest", new long[] {-1}, 1)
        .initializer("W", randn(rnd, 0.5, 6, 3), 6, 3)
        .node("Concat", new String[] {"one", "rest"}, new String[] {"shape"}, "axis", 0L)
        .node("Reshape", "f", "x", "shape")
        .node("MatMul", "z", "f", "W");
    GradCheck.Case c = new GradCheck.Case(b.build(), "z", LossFunction.MEAN_SQUARED_ERROR, List.of("W"));
    GradientGraph g = GradientGraph.build(c.model(), "z", c.loss(), c.params(), 0);
    assertTrue(g.perSample());
    try (GradientEngine e = new GradientEngine(g)) {
      assertEquals(1, e.chunkSize());
    }
    GradCheck.verify(c, GradCheck.batch(rnd, 3, c.loss(), 3, "x", new long[] {2, 3}), 18, rnd);
  }

  @Test
  void decomposedLayerNorm() {
    Random rnd = new Random(37);
    OnnxBuilder b = new OnnxBuilder("ln_decomposed")
        .floatInput("x", -1, 5)
        .initializer("W", randn(rnd, 0.5, 5, 4), 5, 4)
        .initializer("gamma", uniform(rnd, 0.5, 1.5, 4), 4)
        .initializer("beta", randn(rnd, 0.1, 4), 4)
        .initializer("Wo", randn(rnd, 0.5, 4, 3), 4, 3)
        .node("Constant", new String[] {}, new String[] {"two"}, "value", OnnxBuilder.floatTensor("two", new float[] {2f}))
        .node("Constant", new String[] {}, new String[] {"eps"}, "value", OnnxBuilder.floatTensor("eps", new float[] {1e-5f}))
        .node("MatMul", "h", "x", "W")
        .node("ReduceMean", new String[] {"h"}, new String[] {"mu"}, "axes", new long[] {-1})
        .node("Sub", "d", "h", "mu")
        .node("Pow", "d2", "d", "two")
        .node("ReduceMean", new String[] {"d2"}, new String[] {"var"}, "axes", new long[] {-1})
        .node("Add", "ve", "var", "eps")
        .node("Sqrt", "sd", "ve")
        .node("Div", "nrm", "d", "sd")
        .node("Mul", "sc", "nrm", "gamma")
        .node("Add", "ln", "sc", "beta")
        .node("MatMul", "z", "ln", "Wo");
    GradCheck.Case c = new GradCheck.Case(b.build(), "z", LossFunction.SOFTMAX_CROSS_ENTROPY, List.of("W", "gamma", "beta", "Wo"));
    GradCheck.verify(c, GradCheck.batch(rnd, 3, c.loss(), 3, "x", new long[] {5}), 12, rnd);
  }

  @Test
  void tribuoExportedLogisticRegression() {
    LabelFactory lf = new LabelFactory();
    MutableDataset<Label> ds = new MutableDataset<>(new SimpleDataSourceProvenance("synthetic", lf), lf);
    Random rnd = new Random(38);
    for (int i = 0; i < 60; i++) {
      ArrayExample<Label> ex = new ArrayExample<>(new Label("c" + (i % 3)));
      for (int f = 0; f < 4; f++) {
        ex.add("f" + f, rnd.nextGaussian() + (i % 3 == f ? 2 : 0));
      }
      ds.add(ex);
    }
    OnnxMl.ModelProto model = new LogisticRegressionTrainer().train(ds).exportONNXModel("dev.lethe.test", 1);
    OnnxMl.NodeProto gemm = model.getGraph().getNode(0);
    assertEquals("Gemm", gemm.getOpType());
    String logits = gemm.getOutput(0);
    List<String> params = List.of(gemm.getInput(1), gemm.getInput(2));
    GradCheck.Case c = new GradCheck.Case(model, logits, LossFunction.SOFTMAX_CROSS_ENTROPY, params, 0.05);
    String input = model.getGraph().getInput(0).getName();
    GradCheck.verify(c, GradCheck.batch(rnd, 4, c.loss(), 3, input, new long[] {4}), 12, rnd);
  }

  @Test
  void checkerRejectsAGraphBuiltForAnotherL2() {
    Random rnd = new Random(39);
    GradCheck.Case fd = mlp(rnd, LossFunction.MEAN_SQUARED_ERROR, 0.5);
    GradCheck.Case graph = new GradCheck.Case(fd.model(), "z", fd.loss(), fd.params(), 0.0);
    Samples batch = GradCheck.batch(rnd, 2, fd.loss(), 4, "x", new long[] {6});
    org.junit.jupiter.api.Assertions.assertThrows(AssertionError.class,
        () -> GradCheck.verify(graph, fd, batch, 8, rnd));
    GradCheck.verify(fd, fd, batch, 8, rnd);
  }

  @Test
  void ruleTableCoversExactlyTheDocumentedOpSet() {
    // the table is the one list of differentiable ops; pinned to the set docs/gradients.md and the
    // README document, so that losing (or silently adding) a rule fails
    assertEquals(new java.util.TreeSet<>(List.of(
            "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Neg", "Relu", "LeakyRelu",
            "Sigmoid", "Tanh", "Exp", "Log", "Softmax", "LogSoftmax", "Identity", "Dropout",
            "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Concat", "ReduceMean",
            "ReduceSum", "Pow", "Sqrt", "LayerNormalization", "BatchNormalization", "Conv",
            "MaxPool", "AveragePool", "GlobalAveragePool", "Clip", "HardSigmoid", "HardSwish", "Erf", "Gelu",
            "Cast", "Expand", "Gather", "Slice", "Split", "Pad", "Where", "Einsum", "LSTM", "GRU")),
        new java.util.TreeSet<>(dev.lethe.onnx.grad.GradRules.supported()));
  }

  @Test
  void dynamicReshapeTargetComputedFromShape() {
    // PyTorch-style flatten: Reshape(h, Concat(Unsqueeze(Gather(Shape(h), 0)), [-1]))
    Random rnd = new Random(40);
    OnnxBuilder b = new OnnxBuilder("dyn_reshape")
        .floatInput("x", -1, 2, 3)
        .initializer("P", uniform(rnd, 0.5, 1.5, 2, 3), 2, 3)
        .initializer("W", randn(rnd, 0.5, 6, 3), 6, 3)
        .int64Initializer("zero", new long[] {0})
        .int64Initializer("ax0", new long[] {0}, 1)
        .int64Initializer("minus1", new long[] {-1}, 1)
        .node("Mul", "h", "x", "P")
        .node("Shape", "sh", "h")
        .node("Gather", new String[] {"sh", "zero"}, new String[] {"n"}, "axis", 0L)
        .node("Unsqueeze", "n1", "n", "ax0")
        .node("Concat", new String[] {"n1", "minus1"}, new String[] {"target"}, "axis", 0L)
        .node("Reshape", "f", "h", "target")
        .node("MatMul", "z", "f", "W");
    GradCheck.Case c = new GradCheck.Case(b.build(), "z", LossFunction.SOFTMAX_CROSS_ENTROPY, List.of("P", "W"));
    GradCheck.verify(c, GradCheck.batch(rnd, 3, c.loss(), 3, "x", new long[] {2, 3}), 12, rnd);
  }

  @Test
  void pythonOnnxSerialisedModelWithInternalLogits() throws Exception {
    // made by src/test/resources/onnx/make_python_onnx_mlp.py with Debian's python3-onnx 1.12
    OnnxMl.ModelProto model;
    try (java.io.InputStream in = getClass().getResourceAsStream("/onnx/python_onnx_mlp.onnx")) {
      model = OnnxMl.ModelProto.parseFrom(in);
    }
    Random rnd = new Random(41);
    GradCheck.Case c = new GradCheck.Case(model, "logits", LossFunction.SIGMOID_BINARY_CROSS_ENTROPY,
        List.of("W1", "b1", "W2", "b2"), 0.01);
    GradCheck.verify(c, GradCheck.batch(rnd, 4, c.loss(), 3, "x", new long[] {5}), 12, rnd);
  }
}
