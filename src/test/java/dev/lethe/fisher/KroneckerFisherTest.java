package dev.lethe.fisher;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import dev.lethe.core.Batches;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.LetheException;
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
 * KFAC and EKFAC on a small MLP against dense computations in double (EJML): x [N, 4] →
 * Gemm(W1 [5, 4], b1, transB = 1) → Relu → MatMul(W2 [5, 3]) → Add(b2) = logits. W1 with b1 folded
 * in and W2 are the layers (the two index conventions: [out, in] and [in, out]); b2 falls back to
 * a block. The definitions use the per-row gradients of the block-diagonal path (the COTANGENT
 * graph's outer products) and the layer inputs recomputed here, never the FACTORS graph.
 */
class KroneckerFisherTest {
  /** Stored float32 eigenvectors and eigenvalues against double: relative to the largest entry. */
  private static final double TOLERANCE = 1e-5;
  private static final int IN = 4;
  private static final int H = 5;
  private static final int C = 3;
  private static final int N = 40;
  private static final double LAMBDA = 0.05;
  // P: W1 20, b1 5, W2 15, b2 3
  private static final int P = 43;
  @TempDir Path dir;
  private LetheDb db;
  private ModelStore store;
  private Fishers fishers;
  private final Random random = new Random(3);
  private final float[] w1 = Fixtures.random(random, H * IN);
  private final float[] b1 = Fixtures.random(random, H);
  private final float[] w2 = Fixtures.random(random, H * C);
  private final float[] b2 = Fixtures.random(random, C);
  private Samples batch;

  @BeforeEach
  void open() {
    db = LetheDb.open(dir.resolve("db"));
    store = new ModelStore(db, OrtEnvironment.getEnvironment(), StoreConfig.defaults());
    fishers = new Fishers(new FisherStore(db), 2, 1L << 28, dir);
    byte[] onnx = new OnnxBuilder("mlp").floatInput("x", -1, IN)
        .initializer("W1", w1, H, IN).initializer("b1", b1, H)
        .initializer("W2", w2, H, C).initializer("b2", b2, C)
        .node("Gemm", new String[] {"x", "W1", "b1"}, new String[] {"h"}, "transB", 1L)
        .node("Relu", "hr", "h")
        .node("MatMul", "m", "hr", "W2")
        .node("Add", "z", "m", "b2")
        .floatOutput("z", -1, C).toBytes();
    store.put(new ModelConfig("mlp", LossFunction.SOFTMAX_CROSS_ENTROPY, "z", List.of(), N, 0.0,
        LAMBDA, 0, 0, 0), onnx);
    batch = Fixtures.batch(11, N);
  }

  @AfterEach
  void close() {
    fishers.close();
    store.close();
    db.close();
  }

  private String build(FisherStructure structure, CurvatureKind kind) {
    FisherTarget target = store.fisherTarget("mlp", 0);
    try (FisherBuild b = fishers.startBuild(target, new FisherRequest("mlp", kind,
        InversionMethod.GRAM, 0, 0, kind == CurvatureKind.MONTE_CARLO ? 2 : 0, 5, 0, N, structure,
        0))) {
      b.accept(Batches.range(batch, 0, 17));
      b.accept(Batches.range(batch, 17, N));
      FisherProgress done = b.finish(p -> { });
      assertEquals(structure, done.summary().structure());
      return done.summary().fisherId();
    }
  }

  /** The per-row gradients of the block-diagonal path, [N·r, P], and r. */
  private float[] rows(CurvatureKind kind, Samples s, boolean keyed) {
    FisherRows rows = new FisherRows(store.fisherTarget("mlp", 0).view(), kind,
        kind == CurvatureKind.MONTE_CARLO ? 2 : 1, 5, keyed);
    rows.check(s);
    return rows.rows(s, 0);
  }

  /** D of one row (out × c) of layer 0 (W1 [out, in], b1 folded) and layer 1 (W2 [in, out]). */
  private static double[] layerEntries(float[] rows, int row, int layer) {
    int base = row * P;
    if (layer == 0) {
      double[] d = new double[H * (IN + 1)];
      for (int o = 0; o < H; o++) {
        for (int j = 0; j < IN; j++) {
          d[o * (IN + 1) + j] = rows[base + o * IN + j];
        }
        d[o * (IN + 1) + IN] = rows[base + 20 + o];
      }
      return d;
    }
    double[] d = new double[C * H];
    for (int o = 0; o < C; o++) {
      for (int j = 0; j < H; j++) {
        d[o * H + j] = rows[base + 25 + j * C + o];
      }
    }
    return d;
  }

  /** ā of sample s for a layer, recomputed here: (x, 1) for layer 0, relu(W1 x + b1) for layer 1. */
  private double[] input(int s, int layer) {
    float[] x = batch.inputs().get("x").floats();
    if (layer == 0) {
      double[] a = new double[IN + 1];
      for (int j = 0; j < IN; j++) {
        a[j] = x[s * IN + j];
      }
      a[IN] = 1;
      return a;
    }
    double[] a = new double[H];
    for (int o = 0; o < H; o++) {
      double v = b1[o];
      for (int j = 0; j < IN; j++) {
        v += w1[o * IN + j] * x[s * IN + j];
      }
      a[o] = Math.max(0, v);
    }
    return a;
  }

  /** δ of a row: layer 0's is b1's gradient, layer 1's is b2's (z = hr·W2 + b2). */
  private static double[] delta(float[] rows, int row, int layer) {
    int from = layer == 0 ? 20 : 40;
    int len = layer == 0 ? H : C;
    double[] d = new double[len];
    for (int i = 0; i < len; i++) {
      d[i] = rows[row * P + from + i];
    }
    return d;
  }

  private FisherHeader header(String id) {
    return fishers.header("mlp", id);
  }

  private double[] part(String id, int layer, byte part) {
    return fishers.store().readPart("mlp", id, header(id), layer, part);
  }

  @Test
  void layersFollowEachWeightsIndexConvention() {
    ModelView view = store.fisherTarget("mlp", 0).view();
    List<KroneckerLayer> layers = view.kroneckerLayers();
    assertEquals(List.of(new KroneckerLayer(0, 1, H, IN, true, 1, 1),
        new KroneckerLayer(2, -1, C, H, false, 1, 1)), layers);
    assertEquals(List.of(3), java.util.Arrays.stream(view.otherParameters()).boxed().toList());
    // each row's layer entries are δ ⊗ ā of the FACTORS graph (alpha, beta, both conventions)
    float[] rows = rows(CurvatureKind.TRUE, batch, false);
    FisherRows source = new FisherRows(view, CurvatureKind.TRUE, 1, 0);
    FisherRows.Cotangents ct = source.cotangents(batch, 0);
    LayerInputs in = view.layerInputs(ct.rows(), ct.cotangent());
    assertEquals(N * C, in.rows());
    assertEquals(C, in.otherColumns());
    long[] offsets = KroneckerLayer.offsets(view.parameterShapes());
    for (int row = 0; row < N * C; row++) {
      double[] v = new double[P];
      for (int i = 0; i < P; i++) {
        v[i] = rows[row * P + i];
      }
      for (int l = 0; l < 2; l++) {
        KroneckerLayer layer = layers.get(l);
        double[] abar = layer.augmentedInputs(java.util.Arrays.copyOfRange(in.inputs()[l],
            row * layer.in(), (row + 1) * layer.in()), 1);
        double[] expected = new double[(int) layer.entries()];
        for (int o = 0; o < layer.out(); o++) {
          for (int j = 0; j < layer.columns(); j++) {
            expected[o * layer.columns() + j] = in.cotangents()[l][row * layer.out() + o] * abar[j];
          }
        }
        DenseKronecker.assertClose(layerEntries(rows, row, l), expected, TOLERANCE, "row " + row + " layer " + l);
        double[] gathered = new double[(int) layer.entries()];
        layer.gather(v, offsets, gathered);
        DenseKronecker.assertClose(layerEntries(rows, row, l), gathered, 0, "gather of layer " + l);
      }
      for (int i = 0; i < C; i++) {
        assertEquals(rows[row * P + 40 + i], in.others()[row * C + i], 1e-6);
      }
    }
  }

  @Test
  void kfacFactorsAndApplyEqualTheDenseKroneckerInverse() {
    String id = build(FisherStructure.KFAC, CurvatureKind.TRUE);
    assertEquals(FisherStructure.KFAC, header(id).structure());
    float[] rows = rows(CurvatureKind.TRUE, batch, false);
    Random r = new Random(1);
    double[] v = new double[P];
    for (int i = 0; i < P; i++) {
      v[i] = r.nextGaussian();
    }
    double[] applied = new double[P];
    fishers.solver("mlp", id).apply(v, applied);
    for (int l = 0; l < 2; l++) {
      List<double[]> inputs = new ArrayList<>();
      List<double[]> deltas = new ArrayList<>();
      for (int s = 0; s < N; s++) {
        inputs.add(input(s, l));
        for (int j = 0; j < C; j++) {
          deltas.add(delta(rows, s * C + j, l));
        }
      }
      DMatrixRMaj a = DenseKronecker.outerMean(inputs);
      DMatrixRMaj g = DenseKronecker.outerMean(deltas);
      DenseKronecker.assertClose(a.data, part(id, l, Kronecker.A), TOLERANCE, "A of layer " + l);
      DenseKronecker.assertClose(g.data, part(id, l, Kronecker.G), TOLERANCE, "G of layer " + l);
      // dense λI + G ⊗ A over vec(D) row-major (o outer), inverted, against the apply
      DMatrixRMaj f = new DMatrixRMaj(1, 1);
      CommonOps_DDRM.kron(g, a, f);
      for (int i = 0; i < f.numRows; i++) {
        f.add(i, i, LAMBDA);
      }
      CommonOps_DDRM.invert(f);
      double[] d = layerEntries(toFloat(v), 0, l);
      DMatrixRMaj x = new DMatrixRMaj(d.length, 1);
      CommonOps_DDRM.mult(f, DMatrixRMaj.wrap(d.length, 1, d), x);
      DenseKronecker.assertClose(x.data, layerEntries(toFloat(applied), 0, l), TOLERANCE, "F^-1 v of layer " + l);
    }
    // b2, the fallback block: (λI + (1/(n r)) Σ rows rowsᵀ)⁻¹ on its 3 entries
    DMatrixRMaj block = new DMatrixRMaj(C, C);
    for (int row = 0; row < N * C; row++) {
      for (int i = 0; i < C; i++) {
        for (int j = 0; j < C; j++) {
          block.add(i, j, (double) rows[row * P + 40 + i] * rows[row * P + 40 + j] / (N * C));
        }
      }
    }
    for (int i = 0; i < C; i++) {
      block.add(i, i, LAMBDA);
    }
    CommonOps_DDRM.invert(block);
    DMatrixRMaj xb = new DMatrixRMaj(C, 1);
    CommonOps_DDRM.mult(block, DMatrixRMaj.wrap(C, 1, java.util.Arrays.copyOfRange(v, 40, 43)), xb);
    DenseKronecker.assertClose(xb.data, java.util.Arrays.copyOfRange(applied, 40, 43), TOLERANCE, "b2 block");
  }

  private static float[] toFloat(double[] v) {
    float[] f = new float[P];
    for (int i = 0; i < P; i++) {
      f[i] = (float) v[i];
    }
    return f;
  }

  /** Λ*[o][j] = (1/(n r)) Σ_rows ((Q_Gᵀ D Q_A)[o][j])² over the rows of {@code keep}. */
  private double[] correctedEigenvalues(float[] rows, List<Integer> keep, int r, double[] qa,
      double[] qg, int l) {
    int o = l == 0 ? H : C;
    int c = l == 0 ? IN + 1 : H;
    DMatrixRMaj a = DMatrixRMaj.wrap(c, c, qa);
    DMatrixRMaj g = DMatrixRMaj.wrap(o, o, qg);
    double[] e = new double[o * c];
    for (int s : keep) {
      for (int j = 0; j < r; j++) {
        DMatrixRMaj d = DMatrixRMaj.wrap(o, c, layerEntries(rows, s * r + j, l));
        DMatrixRMaj t = new DMatrixRMaj(o, c);
        DMatrixRMaj u = new DMatrixRMaj(o, c);
        CommonOps_DDRM.multTransA(g, d, t);
        CommonOps_DDRM.mult(t, a, u);
        for (int i = 0; i < e.length; i++) {
          e[i] += u.data[i] * u.data[i] / ((double) keep.size() * r);
        }
      }
    }
    return e;
  }

  @Test
  void ekfacEigenvaluesAndLeaveOutEqualTheirDefinitions() {
    String id = build(FisherStructure.EKFAC, CurvatureKind.MONTE_CARLO);
    float[] rows = rows(CurvatureKind.MONTE_CARLO, batch, true);
    int r = 2;
    List<Integer> all = new ArrayList<>();
    for (int s = 0; s < N; s++) {
      all.add(s);
    }
    for (int l = 0; l < 2; l++) {
      double[] e = correctedEigenvalues(rows, all, r, part(id, l, Kronecker.Q_A),
          part(id, l, Kronecker.Q_G), l);
      DenseKronecker.assertClose(e, part(id, l, Kronecker.LAMBDA_E), TOLERANCE, "Λ* of layer " + l);
    }
    // leave S = samples 3, 7, 20 out: Λ*₋S over the others in the same basis; b2's block exact
    int[] erased = {3, 7, 20};
    List<Integer> keep = new ArrayList<>(all);
    for (int s : erased) {
      keep.remove(Integer.valueOf(s));
    }
    Samples gone = Batches.rows(batch, erased);
    Random rnd = new Random(2);
    double[] g = new double[P];
    for (int i = 0; i < P; i++) {
      g[i] = rnd.nextGaussian();
    }
    ModelView view = store.fisherTarget("mlp", 0).view();
    Fishers.LeaveOutRun run = fishers.leaveOut("mlp", id, view, gone, g, true);
    double[] x = run.result().x();
    for (int l = 0; l < 2; l++) {
      int o = l == 0 ? H : C;
      int c = l == 0 ? IN + 1 : H;
      double[] qa = part(id, l, Kronecker.Q_A);
      double[] qg = part(id, l, Kronecker.Q_G);
      double[] e = correctedEigenvalues(rows, keep, r, qa, qg, l);
      double[] expected = DenseKronecker.eigenSolve(qa, qg, e, LAMBDA,
          layerEntries(toFloat(g), 0, l), o, c);
      DenseKronecker.assertClose(expected, layerEntries(toFloat(x), 0, l), TOLERANCE, "leave-out of layer " + l);
      // the downdate stores Λ*₋S in the same basis
      DenseKronecker.assertClose(e, part(run.downdatedId(), l, Kronecker.LAMBDA_E), TOLERANCE, "downdated Λ*");
    }
    DMatrixRMaj block = new DMatrixRMaj(C, C);
    for (int s : keep) {
      for (int j = 0; j < r; j++) {
        int row = s * r + j;
        for (int a = 0; a < C; a++) {
          for (int b = 0; b < C; b++) {
            block.add(a, b, (double) rows[row * P + 40 + a] * rows[row * P + 40 + b] / (keep.size() * r));
          }
        }
      }
    }
    for (int i = 0; i < C; i++) {
      block.add(i, i, LAMBDA);
    }
    CommonOps_DDRM.invert(block);
    DMatrixRMaj xb = new DMatrixRMaj(C, 1);
    CommonOps_DDRM.mult(block, DMatrixRMaj.wrap(C, 1, java.util.Arrays.copyOfRange(g, 40, 43)), xb);
    DenseKronecker.assertClose(xb.data, java.util.Arrays.copyOfRange(x, 40, 43), TOLERANCE, "b2 leave-out");
    FisherHeader down = header(run.downdatedId());
    assertEquals(N - 3, down.samples());
    assertTrue(down.downdated());
    assertEquals(FisherStructure.EKFAC, down.structure());
    // the downdated Fisher's apply is the leave-out solve
    double[] again = new double[P];
    fishers.solver("mlp", run.downdatedId()).apply(g, again);
    DenseKronecker.assertClose(x, again, TOLERANCE, "apply of the downdated Fisher");
  }

  @Test
  void anEmpiricalFishersLeaveOutRowsAreTheGradientPassAtItsVersion() {
    String id = build(FisherStructure.EKFAC, CurvatureKind.EMPIRICAL);
    FisherHeader h = header(id);
    ModelView view = store.fisherTarget("mlp", 0).view();
    Samples gone = Batches.rows(batch, new int[] {3, 7, 20});
    FactoredGradient g = FactoredGradient.of(view, h, gone, 0, null, h.modelVersion());
    LayerInputs reused = g.fisherRows(h, gone);
    LayerInputs made = KroneckerLeaveOut.inputs(view, h, gone);
    assertNotNull(reused);
    for (int l = 0; l < 2; l++) {
      assertArrayEquals(made.inputs()[l], reused.inputs()[l], "inputs of layer " + l);
      assertArrayEquals(made.cotangents()[l], reused.cotangents()[l], "cotangents of layer " + l);
    }
    assertArrayEquals(made.others(), reused.others());
    // not for other samples, at another version, or (last) for a Fisher of another kind
    assertNull(g.fisherRows(h, Batches.rows(batch, new int[] {3, 7, 20})));
    assertNull(FactoredGradient.of(view, h, gone, 0, null, h.modelVersion() + 1)
        .fisherRows(h, gone));
    // the leave-out step through the reused rows is the one that makes them again
    double[] reusing = fishers.leaveOut("mlp", id, view, gone, g, false).result().x();
    double[] remade = fishers.leaveOut("mlp", id, view, gone,
        FactoredGradient.of(view, h, gone, 0, null, -1), false).result().x();
    assertArrayEquals(remade, reusing, 0.0);
    FisherHeader trueKind = header(build(FisherStructure.EKFAC, CurvatureKind.TRUE));
    assertNull(FactoredGradient.of(view, trueKind, gone, 0, null, trueKind.modelVersion())
        .fisherRows(trueKind, gone));
  }

  @Test
  void theErasesGradientSumThroughTheFactorsEqualsThePerSampleGradients() {
    String id = build(FisherStructure.EKFAC, CurvatureKind.TRUE);
    ModelView view = store.fisherTarget("mlp", 0).view();
    Samples s = Batches.range(batch, 5, 25);
    float[] per = view.gradients(view.check(s, true)); // l2 = 0: the data loss's gradients
    double[] expected = new double[P];
    for (int i = 0; i < s.size(); i++) {
      for (int j = 0; j < P; j++) {
        expected[j] += per[i * P + j];
      }
    }
    DenseKronecker.assertClose(expected, FactoredGradient.layerGradientSum(view, header(id), s), TOLERANCE,
        "Σ gradients through the layers");
  }

  @Test
  void kfacDowndateSubtractsTheErasedTermsFromBothFactors() {
    String id = build(FisherStructure.KFAC, CurvatureKind.TRUE);
    float[] rows = rows(CurvatureKind.TRUE, batch, true);
    int[] erased = {0, 5};
    Fishers.LeaveOutRun run = fishers.leaveOut("mlp", id, store.fisherTarget("mlp", 0).view(),
        Batches.rows(batch, erased), new double[P], true);
    for (int l = 0; l < 2; l++) {
      List<double[]> inputs = new ArrayList<>();
      List<double[]> deltas = new ArrayList<>();
      for (int s = 0; s < N; s++) {
        if (s == 0 || s == 5) {
          continue;
        }
        inputs.add(input(s, l));
        for (int j = 0; j < C; j++) {
          deltas.add(delta(rows, s * C + j, l));
        }
      }
      DenseKronecker.assertClose(DenseKronecker.outerMean(inputs).data, part(run.downdatedId(), l, Kronecker.A), TOLERANCE, "A-S");
      DenseKronecker.assertClose(DenseKronecker.outerMean(deltas).data, part(run.downdatedId(), l, Kronecker.G), TOLERANCE, "G-S");
    }
  }

  @Test
  void headersRoundTripAndRefusalsChangeNothing() {
    String id = build(FisherStructure.EKFAC, CurvatureKind.TRUE);
    FisherHeader h = header(id);
    assertEquals(h, FisherHeader.decode(h.encode()));
    assertEquals(2, h.kronecker().layers().size());
    assertTrue(h.totalBytes() > h.kronecker().storedBytes());
    // AUTO: fits the default budget → block-diagonal; a 1-byte budget → EKFAC, and says why
    FisherTarget target = store.fisherTarget("mlp", 0);
    BuildPlan fits = BuildPlan.resolve(target, new FisherRequest("mlp", null, InversionMethod.GRAM,
        0, 0, 0, 0, 0, N), 1 << 28, 2, 1L << 30);
    assertEquals(FisherStructure.BLOCK_DIAGONAL, fits.structure());
    assertTrue(fits.structureReason().contains("within the storage budget"), fits.structureReason());
    BuildPlan over = BuildPlan.resolve(target, new FisherRequest("mlp", null, InversionMethod.GRAM,
        0, 0, 0, 0, 0, N, FisherStructure.AUTO, 100), 1 << 28, 2, 1L << 30);
    assertEquals(FisherStructure.EKFAC, over.structure());
    assertTrue(over.structureReason().contains("over the storage budget of 100"), over.structureReason());
    LetheException minibatch = assertThrows(LetheException.class, () -> BuildPlan.resolve(target,
        new FisherRequest("mlp", CurvatureKind.EMPIRICAL, InversionMethod.GRAM, 0, 4, 0, 0, 0, N,
            FisherStructure.KFAC, 0), 1 << 28, 2, 1L << 30));
    assertEquals(LetheException.Kind.INVALID_ARGUMENT, minibatch.kind());
    assertTrue(minibatch.getMessage().contains("options.minibatch"), minibatch.getMessage());
    LetheException budget = assertThrows(LetheException.class, () -> BuildPlan.resolve(target,
        new FisherRequest("mlp", null, InversionMethod.GRAM, 0, 0, 0, 0, 0, N, null, -1),
        1 << 28, 2, 1L << 30));
    assertTrue(budget.getMessage().contains("options.storage_budget_bytes"), budget.getMessage());
    // a leave-out of every sample is refused before anything is written
    java.util.Set<String> before = FisherStore.storedIds(db).get("mlp");
    assertThrows(LetheException.class, () -> fishers.leaveOut("mlp", id,
        store.fisherTarget("mlp", 0).view(), batch, new double[P], true));
    assertEquals(before, FisherStore.storedIds(db).get("mlp"));
    assertNotNull(before);
  }
}
