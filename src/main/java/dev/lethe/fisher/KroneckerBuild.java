package dev.lethe.fisher;

import dev.lethe.core.LetheException;
import dev.lethe.core.Samples;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.function.Consumer;

/**
 * A KFAC or EKFAC build (what {@link FisherBuild} runs for a Kronecker-factored plan). Per dense
 * layer, from the rows' layer inputs a and output cotangents δ ({@link ModelView#layerInputs}):
 *
 * <pre>
 *   A = (1/n) Σ_i Σ_t ā_it ā_itᵀ          (ā = (alpha·a, beta): the bias folded in; once per sample)
 *   G = (1/(n·r·T)) Σ_i Σ_j Σ_t δ_ijt δ_ijtᵀ  (r rows per sample, T positions: KFC's Ω and Γ)
 *   A = Q_A Λ_A Q_Aᵀ,  G = Q_G Λ_G Q_Gᵀ
 *   EKFAC: Λ*[o][j] = (1/(n·r)) Σ_i Σ_j' ((Q_Gᵀ D_ij' Q_A)[o][j])²,  D_ij' = Σ_t δ_ij't ā_itᵀ
 * </pre>
 *
 * The last is the diagonal of (Q_A ⊗ Q_G)ᵀ F (Q_A ⊗ Q_G) for F the layer's exact Fisher
 * (1/(n r)) Σ vec(D) vec(D)ᵀ (for T = 1, D = δ āᵀ and the square is an outer product of
 * squares): a second pass over the samples, replayed from a
 * {@link SampleSpill}. The other erasable parameters get block-diagonal blocks
 * ({@link FisherAccumulator}) in the first pass. Everything is written to the
 * {@link FisherStore.Writer} as soon as it is computed (a layer's parts, then it is dropped).
 *
 * <p>Heap: the factors of every layer at once ({@link BuildPlan#factorBytes}), reserved by the
 * caller. Not thread-safe (one stream).
 */
final class KroneckerBuild implements AutoCloseable {
  private final BuildPlan plan;
  private final Kronecker k;
  private final FisherRows rows;
  private final ModelView view;
  private final FisherStore.Writer writer;
  private final SampleSpill spill;
  private final int perSample;
  private FisherAccumulator others;
  private double[][] a;
  private double[][] g;
  private final KroneckerMoments moments;
  private final FisherRows labelRows;
  private long seen;
  private int done;
  private int pass = 1;

  KroneckerBuild(BuildPlan plan, FisherRows rows, ModelView view, FisherStore.Writer writer,
      ExecutorService pool, Path spillDir) {
    this.plan = plan;
    this.k = plan.kronecker();
    this.rows = rows;
    this.view = view;
    this.writer = writer;
    this.perSample = rows.rowsPerSample();
    float[] l2 = view.l2Term();
    this.moments = l2 == null ? null : new KroneckerMoments(k, l2);
    this.labelRows = l2 == null || rows.rowsAreGradients() ? null
        : new FisherRows(view, CurvatureKind.EMPIRICAL, 1, 0, false);
    List<KroneckerLayer> layers = k.layers();
    this.a = new double[layers.size()][];
    this.g = new double[layers.size()][];
    for (int l = 0; l < layers.size(); l++) {
      int c = layers.get(l).columns();
      int o = layers.get(l).out();
      a[l] = new double[c * c];
      g[l] = new double[o * o];
    }
    BlockLayout layout = plan.layout();
    this.others = layout.blockCount() == 0 ? null : new FisherAccumulator(layout, 0,
        layout.blockCount(), plan.samples() * perSample, plan.options(), pool);
    try {
      this.spill = plan.structure() == FisherStructure.EKFAC ? new SampleSpill(spillDir) : null;
    } catch (IOException e) {
      throw new UncheckedIOException("creating the sample spill in " + spillDir, e);
    }
  }

  /** Blocks of the other parameters, plus one per layer (twice for EKFAC: factors, eigenvalues). */
  int unitsTotal() {
    int layers = k.layers().size();
    return plan.layout().blockCount() + layers * (plan.structure() == FisherStructure.EKFAC ? 2 : 1);
  }

  int passes() {
    return plan.structure() == FisherStructure.EKFAC ? 2 : 1;
  }

  int pass() {
    return pass;
  }

  int unitsDone() {
    return done;
  }

  /** Adds a checked batch whose first sample is at stream position {@code position}. */
  void accept(Samples checked, long position) {
    int n = checked.size();
    if (n == 0) {
      return;
    }
    LayerInputs in = inputs(checked, position);
    List<KroneckerLayer> layers = k.layers();
    for (int l = 0; l < layers.size(); l++) {
      addFactors(layers.get(l), in.inputs()[l], in.cotangents()[l], n, perSample, a[l], g[l]);
    }
    if (others != null) {
      others.accept(in.others(), n * perSample);
    }
    if (moments != null) {
      moments.add(labelRows == null ? in : inputs(labelRows, checked, position), n);
    }
    if (spill != null) {
      spill.append(checked);
    }
    seen += n;
  }

  /** The convergence measured over the first pass (UNKNOWN when the view has no L2 term). */
  Convergence convergence() {
    return moments == null ? Convergence.UNKNOWN : moments.result();
  }

  private LayerInputs inputs(Samples checked, long position) {
    return inputs(rows, checked, position);
  }

  private LayerInputs inputs(FisherRows of, Samples checked, long position) {
    FisherRows.Cotangents ct = of.cotangents(checked, position);
    return view.layerInputs(ct.rows(), ct.cotangent());
  }

  /**
   * a += Σ ā āᵀ and g += (1/T) Σ δ δᵀ (upper triangles) for n samples of r rows each: what one
   * batch adds to a layer's factor sums (the sums Spark's partitions add up, too).
   */
  static void addFactors(KroneckerLayer layer, float[] inputs, float[] cotangents, int n, int r,
      double[] a, double[] g) {
    int t = layer.positions();
    double[] abar = layer.augmentedInputs(firstRowsOf(inputs, n, r, layer.in() * t), n);
    Linalg.rankUpdateUpper(abar, n * t, 1.0, a, layer.columns());
    Linalg.rankUpdateUpper(layer.cotangentRows(cotangents, n * r), n * r * t, 1.0 / t, g,
        layer.out());
  }

  static double[] toDouble(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }

  /**
   * Inverts the other parameters' blocks, eigendecomposes every layer's factors, makes EKFAC's
   * second pass, and writes all of it; the header is the caller's to commit.
   */
  void finish(long samples, Consumer<Integer> progress) {
    if (others != null) {
      others.finish(new BlockSink() {
        @Override
        public void acceptFisher(int block, double[] fisher) {
          writer.acceptFisher(block, fisher);
        }

        @Override
        public void accept(int block, double[] inverse) {
          writer.accept(block, inverse);
          int d;
          synchronized (KroneckerBuild.this) {
            d = ++done;
          }
          progress.accept(d);
        }
      });
      others = null;
    }
    List<KroneckerLayer> layers = k.layers();
    boolean ekfac = plan.structure() == FisherStructure.EKFAC;
    double rowsTotal = (double) samples * perSample;
    for (int l = 0; l < layers.size(); l++) {
      KroneckerLayer layer = layers.get(l);
      int c = layer.columns();
      int o = layer.out();
      mirrorScale(a[l], c, 1.0 / samples);
      mirrorScale(g[l], o, 1.0 / rowsTotal);
      storeFactors(writer, l, a[l], c, g[l], o, ekfac);
      if (!ekfac) {
        a[l] = null;
        g[l] = null;
      }
      progress.accept(++done);
    }
    if (ekfac) {
      pass = 2;
      double[][] e = new double[layers.size()][];
      for (int l = 0; l < layers.size(); l++) {
        e[l] = new double[layers.get(l).out() * layers.get(l).columns()];
      }
      long[] position = {0};
      spill.replay(batch -> {
        LayerInputs in = inputs(batch, position[0]);
        for (int l = 0; l < layers.size(); l++) {
          addProjectedSquares(layers.get(l), a[l], g[l], in.inputs()[l], in.cotangents()[l],
              batch.size(), perSample, 1.0, e[l]);
        }
        position[0] += batch.size();
      });
      for (int l = 0; l < layers.size(); l++) {
        storeSecondMoments(writer, l, e[l], rowsTotal);
        e[l] = null;
        a[l] = null;
        g[l] = null;
        progress.accept(++done);
      }
    }
  }

  /**
   * Stores layer {@code l}'s normalised factors A (c × c) and G (o × o), both triangles set: for
   * KFAC A and G themselves, then (both structures) their eigendecompositions Q_A, Λ_A, Q_G, Λ_G
   * ({@link #eigenbasis}). On return {@code a} and {@code g} hold Q_A and Q_G. The one place a
   * build and PutFisherSums ({@link KroneckerSums}) store a layer's factors.
   */
  static void storeFactors(FisherStore.Writer writer, int l, double[] a, int c, double[] g, int o,
      boolean ekfac) {
    if (!ekfac) {
      writer.putPart(l, Kronecker.A, a);
      writer.putPart(l, Kronecker.G, g);
    }
    double[][] lambdas = eigenbasis(a, c, g, o);
    storeBasis(writer, l, a, g, lambdas[0], lambdas[1]);
  }

  /** Eigendecomposes A and G in place (into Q_A, Q_G); returns {Λ_A, Λ_G}, clamped at 0. */
  static double[][] eigenbasis(double[] a, int c, double[] g, int o) {
    double[] la = new double[c];
    double[] lg = new double[o];
    Linalg.symmetricEigen(a, c, la);
    Linalg.symmetricEigen(g, o, lg);
    clampNonNegative(la);
    clampNonNegative(lg);
    return new double[][] {la, lg};
  }

  /** Stores an eigenbasis and its eigenvalues (Q row-major, eigenvectors in columns). */
  static void storeBasis(FisherStore.Writer writer, int l, double[] qa, double[] qg, double[] la,
      double[] lg) {
    writer.putPart(l, Kronecker.Q_A, qa);
    writer.putPart(l, Kronecker.Q_G, qg);
    writer.putPart(l, Kronecker.LAMBDA_A, la);
    writer.putPart(l, Kronecker.LAMBDA_G, lg);
  }

  /** Stores EKFAC's Λ* = e / rows ({@code e}: the sums of squared projected gradients; scaled in place). */
  static void storeSecondMoments(FisherStore.Writer writer, int l, double[] e, double rowsTotal) {
    for (int i = 0; i < e.length; i++) {
      e[i] /= rowsTotal;
    }
    writer.putPart(l, Kronecker.LAMBDA_E, e);
  }

  /**
   * e += scale · Σ_i s_i ⊗ (Q_Aᵀ ā_i)² with s_i = Σ_j (Q_Gᵀ δ_ij)² over sample i's r rows: the
   * squared projected gradients of k samples, out × c row-major.
   */
  static void addProjectedSquares(KroneckerLayer layer, double[] qa, double[] qg, float[] inputs,
      float[] cotangents, int k, int r, double scale, double[] e) {
    int c = layer.columns();
    int o = layer.out();
    if (layer.positions() > 1) {
      addProjectedSquaresOverPositions(layer, qa, qg, inputs, cotangents, k, r, scale, e);
      return;
    }
    double[] abar = layer.augmentedInputs(firstRowsOf(inputs, k, r, layer.in()), k);
    double[] at = new double[k * c];
    Linalg.multiply(false, false, k, c, c, abar, qa, at);
    double[] dt = new double[k * r * o];
    Linalg.multiply(false, false, k * r, o, o, toDouble(cotangents), qg, dt);
    double[] s = new double[k * o];
    for (int i = 0; i < k; i++) {
      for (int j = 0; j < r; j++) {
        int row = (i * r + j) * o;
        for (int x = 0; x < o; x++) {
          double v = dt[row + x];
          s[i * o + x] += v * v;
        }
      }
    }
    for (int i = 0; i < at.length; i++) {
      at[i] *= at[i];
    }
    double[] sum = new double[o * c];
    Linalg.multiply(true, false, o, c, k, s, at, sum);
    for (int i = 0; i < sum.length; i++) {
      e[i] += scale * sum[i];
    }
  }

  /**
   * The T &gt; 1 case: per row D̃ = (Q_Gᵀ Δ)(Â Q_A) with Δ [out × T] the row's cotangents and
   * Â [T × c] its sample's patches, e += scale · D̃².
   */
  private static void addProjectedSquaresOverPositions(KroneckerLayer layer, double[] qa,
      double[] qg, float[] inputs, float[] cotangents, int k, int r, double scale, double[] e) {
    int c = layer.columns();
    int o = layer.out();
    int t = layer.positions();
    double[] abar = layer.augmentedInputs(firstRowsOf(inputs, k, r, layer.in() * t), k);
    double[] delta = layer.cotangentRows(cotangents, k * r); // [(k r) T, o]
    double[] y = new double[t * c];
    double[] x = new double[o * t];
    double[] d = new double[o * c];
    for (int i = 0; i < k; i++) {
      Linalg.multiply(false, false, t, c, c, java.util.Arrays.copyOfRange(abar, i * t * c,
          (i + 1) * t * c), qa, y);
      for (int j = 0; j < r; j++) {
        int row = i * r + j;
        // X = Q_Gᵀ Δ with Δ = (δ rows [T, o])ᵀ: X = Q_Gᵀ · rowsᵀ
        Linalg.multiply(true, true, o, t, o, qg, java.util.Arrays.copyOfRange(delta,
            row * t * o, (row + 1) * t * o), x);
        Linalg.multiply(false, false, o, c, t, x, y, d);
        for (int q = 0; q < d.length; q++) {
          e[q] += scale * d[q] * d[q];
        }
      }
    }
  }

  static float[] firstRowsOf(float[] inputs, int n, int r, int width) {
    if (r == 1) {
      return inputs;
    }
    float[] out = new float[n * width];
    for (int i = 0; i < n; i++) {
      System.arraycopy(inputs, i * r * width, out, i * width, width);
    }
    return out;
  }

  /** Mirrors the upper triangle of the row-major b × b matrix m below the diagonal and scales it. */
  static void mirrorScale(double[] m, int b, double scale) {
    for (int i = 0; i < b; i++) {
      m[i * b + i] *= scale;
      for (int j = i + 1; j < b; j++) {
        m[i * b + j] *= scale;
        m[j * b + i] = m[i * b + j];
      }
    }
  }

  /** Rounding can leave eigenvalues of a positive semi-definite factor at −1e-17: they are 0. */
  static void clampNonNegative(double[] w) {
    for (int i = 0; i < w.length; i++) {
      if (!(w[i] > 0)) {
        if (Double.isNaN(w[i])) {
          throw LetheException.invalid("samples", "a Kronecker factor has a NaN eigenvalue");
        }
        w[i] = 0;
      }
    }
  }

  @Override
  public void close() {
    a = null;
    g = null;
    others = null;
    if (spill != null) {
      spill.close();
    }
  }
}
