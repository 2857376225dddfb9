package dev.lethe.fisher;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.onnxruntime.OrtEnvironment;
import dev.lethe.core.Batches;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;
import dev.lethe.onnx.OnnxBuilder;
import dev.lethe.storage.LetheDb;
import dev.lethe.store.ModelStore;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * KFC (Grosse &amp; Martens 2016) on a small CNN against dense computations in double: x [N, 1, 5, 5]
 * → Conv(W1 [3, 1, 3, 3], b1; stride 2, pads 1: 3 × 3 outputs, T = 9) → Relu → Flatten →
 * Gemm(W2 [4, 27], b2, transB = 1). The conv layer's patches are recomputed here (im2col in
 * Java) and its output cotangents by the chain rule from the rows' cotangents; A = (1/n) Σ_i Σ_t
 * ā ā ᵀ and G = (1/(n r T)) Σ δ_t δ_tᵀ; the KFAC apply against (λI + G ⊗ A)⁻¹; EKFAC's
 * eigenvalues against the block path's per-row gradients projected into the basis.
 */
class KroneckerConvTest {
  private static final double TOLERANCE = 1e-5;
  private static final int N = 30;
  private static final int C = 4;
  private static final int T = 9;
  private static final int K = 9;
  private static final int O = 3;
  private static final double LAMBDA = 0.05;
  // P: W1 27, b1 3, W2 108, b2 4
  private static final int P = 142;
  @TempDir Path dir;
  private LetheDb db;
  private ModelStore store;
  private Fishers fishers;
  private final Random random = new Random(8);
  private final float[] w1 = Fixtures.random(random, O * K);
  private final float[] b1 = Fixtures.random(random, O);
  private final float[] w2 = Fixtures.random(random, C * O * T);
  private final float[] b2 = Fixtures.random(random, C);
  private final float[] x = Fixtures.random(random, N * 25);
  private Samples batch;

  @BeforeEach
  void open() {
    db = LetheDb.open(dir.resolve("db"));
    store = new ModelStore(db, OrtEnvironment.getEnvironment(), StoreConfig.defaults());
    fishers = new Fishers(new FisherStore(db), 2, 1L << 28, dir);
    byte[] onnx = new OnnxBuilder("cnn").floatInput("x", -1, 1, 5, 5)
        .initializer("W1", w1, O, 1, 3, 3).initializer("b1", b1, O)
        .initializer("W2", w2, C, O * T).initializer("b2", b2, C)
        .node("Conv", new String[] {"x", "W1", "b1"}, new String[] {"y"}, "strides", new long[] {2, 2},
            "pads", new long[] {1, 1, 1, 1}, "kernel_shape", new long[] {3, 3})
        .node("Relu", "r", "y")
        .node("Flatten", new String[] {"r"}, new String[] {"f"}, "axis", 1L)
        .node("Gemm", new String[] {"f", "W2", "b2"}, new String[] {"z"}, "transB", 1L)
        .floatOutput("z", -1, C).toBytes();
    store.put(new ModelConfig("cnn", LossFunction.SOFTMAX_CROSS_ENTROPY, "z", List.of(), N, 0.0,
        LAMBDA, 0, 0, 0), onnx);
    long[] y = new long[N];
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < N; i++) {
      y[i] = i % C;
      ids.add("c" + i);
    }
    batch = new Samples(ids, Map.of("x", DenseTensor.ofFloats(new long[] {N, 1, 5, 5}, x)),
        DenseTensor.ofLongs(new long[] {N}, y));
  }

  @AfterEach
  void close() {
    fishers.close();
    store.close();
    db.close();
  }

  private String build(FisherStructure structure) {
    return summary(structure).fisherId();
  }

  private FisherProgress.Summary summary(FisherStructure structure) {
    try (FisherBuild b = fishers.startBuild(store.fisherTarget("cnn", 0), new FisherRequest("cnn",
        CurvatureKind.TRUE, InversionMethod.GRAM, 0, 0, 0, 0, 0, N, structure, 0))) {
      b.accept(Batches.range(batch, 0, 11));
      b.accept(Batches.range(batch, 11, N));
      return b.finish(p -> { }).summary();
    }
  }

  /**
   * The convergence moments from the layers' patches and cotangents (T = 9 positions: |D_i|² as
   * Σ_t Σ_t' (δ_t·δ_t')(ā_t·ā_t')) against the block build's full per-sample gradients, 1e-5.
   */
  @Test
  void theConvolutionsConvergenceMomentsEqualThePerSampleGradients() {
    Convergence blocks = summary(FisherStructure.BLOCK_DIAGONAL).convergence();
    Convergence ekfac = summary(FisherStructure.EKFAC).convergence();
    assertEquals(blocks.meanGradientNorm(), ekfac.meanGradientNorm(),
        TOLERANCE * blocks.meanGradientNorm(), "|∇L_D(θ)|");
    assertEquals(blocks.gradientRms(), ekfac.gradientRms(), TOLERANCE * blocks.gradientRms(),
        "gradient RMS");
    org.junit.jupiter.api.Assertions.assertTrue(blocks.gradientRms() > 0);
  }

  /** ā_t of sample s, position t (3 × 3 outputs of stride 2, pads 1): 9 patch values and 1. */
  private double[] patch(int s, int t) {
    double[] a = new double[K + 1];
    int oy = t / 3;
    int ox = t % 3;
    for (int ky = 0; ky < 3; ky++) {
      for (int kx = 0; kx < 3; kx++) {
        int iy = oy * 2 - 1 + ky;
        int ix = ox * 2 - 1 + kx;
        a[ky * 3 + kx] = iy < 0 || iy >= 5 || ix < 0 || ix >= 5 ? 0 : x[s * 25 + iy * 5 + ix];
      }
    }
    a[K] = 1;
    return a;
  }

  /** δ of the conv output [O][T] for sample s and cotangent v at the logits (chain rule). */
  private double[][] convDelta(int s, float[] v, int offset) {
    double[][] d = new double[O][T];
    for (int o = 0; o < O; o++) {
      for (int t = 0; t < T; t++) {
        double[] a = patch(s, t);
        double y = b1[o];
        for (int j = 0; j < K; j++) {
          y += w1[o * K + j] * a[j];
        }
        if (y > 0) {
          double sum = 0;
          for (int k = 0; k < C; k++) {
            sum += w2[k * O * T + o * T + t] * v[offset + k];
          }
          d[o][t] = sum;
        }
      }
    }
    return d;
  }

  private static void assertClose(double[] expected, double[] actual, String what) {
    double max = 0;
    for (double e : expected) {
      max = Math.max(max, Math.abs(e));
    }
    assertEquals(expected.length, actual.length, what);
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], TOLERANCE * max, what + " entry " + i);
    }
  }

  private double[] part(String id, int layer, byte part) {
    return fishers.store().readPart("cnn", id, fishers.header("cnn", id), layer, part);
  }

  /** D of row {@code row} for the conv layer: W1's 27 entries (o, j) and b1's. */
  private static double[] convEntries(float[] rows, int row) {
    double[] d = new double[O * (K + 1)];
    for (int o = 0; o < O; o++) {
      for (int j = 0; j < K; j++) {
        d[o * (K + 1) + j] = rows[row * P + o * K + j];
      }
      d[o * (K + 1) + K] = rows[row * P + 27 + o];
    }
    return d;
  }

  @Test
  void kfcFactorsApplyAndEkfacEigenvaluesEqualTheDenseDefinitions() {
    ModelView view = store.fisherTarget("cnn", 0).view();
    assertEquals(new KroneckerLayer(0, 1, O, K, true, 1, 1, T), view.kroneckerLayers().get(0));
    String id = build(FisherStructure.KFAC);
    FisherRows source = new FisherRows(view, CurvatureKind.TRUE, 1, 0);
    source.check(batch);
    float[] cot = source.cotangents(batch, 0).cotangent();
    float[] rows = source.rows(batch, 0);
    // definitions
    DMatrixRMaj a = new DMatrixRMaj(K + 1, K + 1);
    DMatrixRMaj g = new DMatrixRMaj(O, O);
    for (int s = 0; s < N; s++) {
      for (int t = 0; t < T; t++) {
        double[] p = patch(s, t);
        for (int i = 0; i <= K; i++) {
          for (int j = 0; j <= K; j++) {
            a.add(i, j, p[i] * p[j] / N);
          }
        }
      }
      for (int r = 0; r < C; r++) {
        double[][] d = convDelta(s, cot, (s * C + r) * C);
        // the block path's per-row gradient of W1 and b1 is Σ_t δ_t ā_tᵀ
        double[] expected = new double[O * (K + 1)];
        for (int o = 0; o < O; o++) {
          for (int t = 0; t < T; t++) {
            double[] p = patch(s, t);
            for (int j = 0; j <= K; j++) {
              expected[o * (K + 1) + j] += d[o][t] * p[j];
            }
            for (int q = 0; q < O; q++) {
              g.add(o, q, d[o][t] * d[q][t] / ((double) N * C * T));
            }
          }
        }
        assertClose(expected, convEntries(rows, s * C + r), "row " + (s * C + r));
      }
    }
    assertClose(a.data, part(id, 0, Kronecker.A), "A of the conv layer");
    assertClose(g.data, part(id, 0, Kronecker.G), "G of the conv layer");
    double[] v = new double[P];
    Random r = new Random(4);
    for (int i = 0; i < P; i++) {
      v[i] = r.nextGaussian();
    }
    double[] out = new double[P];
    fishers.solver("cnn", id).apply(v, out);
    DMatrixRMaj f = new DMatrixRMaj(1, 1);
    CommonOps_DDRM.kron(g, a, f);
    for (int i = 0; i < f.numRows; i++) {
      f.add(i, i, LAMBDA);
    }
    CommonOps_DDRM.invert(f);
    float[] vf = new float[P];
    float[] of = new float[P];
    for (int i = 0; i < P; i++) {
      vf[i] = (float) v[i];
      of[i] = (float) out[i];
    }
    double[] d = convEntries(vf, 0);
    DMatrixRMaj xs = new DMatrixRMaj(d.length, 1);
    CommonOps_DDRM.mult(f, DMatrixRMaj.wrap(d.length, 1, d), xs);
    // out was rounded to float for the comparison: its tolerance is float32's on top
    double[] got = convEntries(of, 0);
    double max = 0;
    for (double e : xs.data) {
      max = Math.max(max, Math.abs(e));
    }
    for (int i = 0; i < got.length; i++) {
      assertEquals(xs.data[i], got[i], 2e-5 * max, "F^-1 v entry " + i);
    }
    // EKFAC: Λ* = (1/(n r)) Σ_rows (Q_Gᵀ D Q_A)² with D the block path's rows
    String e = build(FisherStructure.EKFAC);
    double[] qa = part(e, 0, Kronecker.Q_A);
    double[] qg = part(e, 0, Kronecker.Q_G);
    double[] lambda = new double[O * (K + 1)];
    for (int row = 0; row < N * C; row++) {
      DMatrixRMaj dm = DMatrixRMaj.wrap(O, K + 1, convEntries(rows, row));
      DMatrixRMaj t1 = new DMatrixRMaj(O, K + 1);
      DMatrixRMaj t2 = new DMatrixRMaj(O, K + 1);
      CommonOps_DDRM.multTransA(DMatrixRMaj.wrap(O, O, qg), dm, t1);
      CommonOps_DDRM.mult(t1, DMatrixRMaj.wrap(K + 1, K + 1, qa), t2);
      for (int i = 0; i < lambda.length; i++) {
        lambda[i] += t2.data[i] * t2.data[i] / (N * C);
      }
    }
    assertClose(lambda, part(e, 0, Kronecker.LAMBDA_E), "EKFAC eigenvalues of the conv layer");
    // the erase's gradient sum through the conv and dense layers' factors
    float[] per = view.gradients(batch);
    double[] expected = new double[P];
    for (int i = 0; i < N; i++) {
      for (int j = 0; j < P; j++) {
        expected[j] += per[i * P + j];
      }
    }
    assertClose(expected, FactoredGradient.layerGradientSum(view, fishers.header("cnn", e), batch),
        "Σ gradients through the factors");
  }
}
