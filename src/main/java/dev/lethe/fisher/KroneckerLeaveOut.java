package dev.lethe.fisher;

import dev.lethe.core.LetheException;
import dev.lethe.core.Samples;
import java.util.List;
import java.util.concurrent.ExecutorService;

/**
 * The leave-S-out solve x = F₋S⁻¹ g (and, with a downdate, F₋S written as a new Fisher) for a
 * KFAC or EKFAC Fisher, from the k erased samples' layer inputs and cotangents made at the
 * weights the Fisher was built at (as the build made them):
 *
 * <ul>
 *   <li>EKFAC, exact for the stored eigenbasis: Λ*₋S = (n·r·Λ* − Σ_S (Q_Gᵀδ)² ⊗ (Q_Aᵀā)²) /
 *       ((n−k)·r), the basis kept;
 *   <li>KFAC, an approximation: A₋S = (n·A − Σ_S ā āᵀ)/(n−k), G₋S = (n·r·G − Σ_S δ δᵀ)/((n−k)·r),
 *       both eigendecomposed again; A₋S ⊗ G₋S is not the Kronecker factorisation of the
 *       remaining samples' exact Fisher's best approximation, only the factors of the samples
 *       that remain (as a K-FAC build over them would compute them);
 *   <li>the other parameters' blocks: {@link LeaveOut}, exact per block.
 * </ul>
 *
 * Stateless; runs on the caller's thread (matrix products through BLAS) and the pool for blocks.
 */
final class KroneckerLeaveOut {
  private KroneckerLeaveOut() {}

  /**
   * What a leave-out solve did: x and how the blocks were solved, and the step the next
   * version's projected weights derive from.
   */
  record Solved(LeaveOut.Result result, KroneckerStep step) {}

  /**
   * @param g the erase's gradient sum (at the current weights)
   * @param projected θ̃ per layer of g's version in the stored basis, or null
   * @param basis the stored basis's key ({@link ProjectedWeights#basis})
   * @param downdate where F₋S goes (uncommitted), or null
   * @param rowsAreGradient whether {@code in} is what {@code g} was made from
   *     ({@link FactoredGradient#fisherRows}): a large EKFAC layer then projects S's rows once,
   *     for its squares and for the solve
   */
  static Solved solve(KroneckerInverse inverse, LayerInputs in, int k, FactoredGradient g,
      float[][] projected, String basis, FisherStore.Writer downdate, ExecutorService pool,
      int tasks, long rowBudget, boolean rowsAreGradient) {
    FisherHeader h = inverse.header();
    Kronecker kr = h.kronecker();
    long n = h.samples();
    int r = h.rows().perSample();
    if (k < 1 || k >= n) {
      throw LetheException.precondition("leave-out: cannot remove " + k + " of the Fisher's " + n
          + " samples");
    }
    double[] x = new double[(int) h.parameterCount()];
    int woodbury = 0;
    int refactor = 0;
    if (inverse.blocks() != null) {
      ErasedRows rows = ErasedRows.ofArray(in.others(), k, r, in.otherColumns());
      LeaveOut.Result blocks = LeaveOut.solve(inverse.blocks(), rows, g.others(), downdate,
          pool, tasks, rowBudget, downdate != null ? LeaveOut.Path.REFACTOR : LeaveOut.Path.AUTO);
      kr.scatterOthers(blocks.x(), x);
      woodbury = blocks.woodburyBlocks();
      refactor = blocks.refactorBlocks();
    }
    List<KroneckerLayer> layers = kr.layers();
    float[][] used = new float[layers.size()][];
    float[][] middle = new float[layers.size()][];
    boolean ekfac = h.structure() == FisherStructure.EKFAC;
    for (int l = 0; l < layers.size(); l++) {
      KroneckerLayer layer = layers.get(l);
      boolean large = layer.singlePrecision();
      if (ekfac && large && layer.positions() == 1) {
        KroneckerLargeSolve.Result s = largeEkfac(inverse, l, layer, in, k, r, n, g,
            projected == null ? null : projected[l], downdate, rowsAreGradient);
        layer.scatter(s.x(), kr.offsets(), x);
        used[l] = s.projected();
        middle[l] = s.middle();
        continue;
      }
      double[][] basisOf = ekfac ? ekfacDowndate(inverse, l, layer, in, k, r, n, downdate)
          : kfacDowndate(inverse, l, layer, in, k, r, n, downdate);
      double[] qa = basisOf[0];
      double[] qg = basisOf[1];
      double[] lambda = basisOf[2];
      if (large) {
        KroneckerLargeSolve.Result s = KroneckerLargeSolve.solve(layer, l,
            KroneckerLargeSolve.single(qa), KroneckerLargeSolve.single(qg),
            KroneckerLargeSolve.single(lambda), h.dampening(), g,
            ekfac && projected != null ? projected[l] : null, kr.offsets());
        checkFinite(s.x(), l);
        layer.scatter(s.x(), kr.offsets(), x);
        if (ekfac) {
          used[l] = s.projected();
          middle[l] = s.middle();
        }
        continue;
      }
      double[] d = g.layerDense(l);
      KroneckerInverse.solve(layer, qa, qg, lambda, h.dampening(), d);
      for (double v : d) {
        if (!Double.isFinite(v)) {
          throw notFinite(l);
        }
      }
      layer.scatter(d, kr.offsets(), x);
    }
    return new Solved(new LeaveOut.Result(x, woodbury, refactor + layers.size(), 1),
        new KroneckerStep(x, ekfac ? basis : null, g.version(), used, middle));
  }

  /**
   * A large one-position EKFAC layer in float32: Λ*₋S from the stored Λ* and S's projected
   * squares, then {@link KroneckerLargeSolve} in the stored basis. When S's rows are the
   * gradient's factors (r = 1, the layer factored), Q_GᵀΔ and ĀQ_A are made once for both.
   */
  private static KroneckerLargeSolve.Result largeEkfac(KroneckerInverse inverse, int l,
      KroneckerLayer layer, LayerInputs in, int k, int r, long n, FactoredGradient g,
      float[] projected, FisherStore.Writer downdate, boolean rowsAreGradient) {
    float[] qa = inverse.floats(l, Kronecker.Q_A);
    float[] qg = inverse.floats(l, Kronecker.Q_G);
    float[] lambda = inverse.floats(l, Kronecker.LAMBDA_E).clone(); // kept parts are shared
    boolean shared = rowsAreGradient && r == 1 && g.factored(l) && g.rank(l) == k;
    float[][] factors = g.factored(l) ? KroneckerLargeSolve.projectFactors(layer, l, qa, qg, g)
        : null;
    float[] sq = shared ? squares(factors[1], factors[0], k, 1, layer.out(), layer.columns())
        : projectedSquares(layer, qa, qg, in.inputs()[l], in.cotangents()[l], k, r);
    double nr = (double) n * r;
    double kept = (double) (n - k) * r;
    // Λ*₋S = (n·r·Λ* − Σ_S squares) / ((n−k)·r), in float32 (the loop vectorises)
    float keep = (float) (nr / kept);
    float drop = (float) (1 / kept);
    for (int i = 0; i < lambda.length; i++) {
      lambda[i] = Math.max(0f, keep * lambda[i] - drop * sq[i]);
    }
    if (downdate != null) {
      keepBasis(inverse, l, downdate);
      downdate.putPart(l, Kronecker.LAMBDA_E, lambda);
    }
    KroneckerLargeSolve.Result s = KroneckerLargeSolve.solve(layer, l, qa, qg, lambda,
        inverse.header().dampening(), g, projected, inverse.header().kronecker().offsets(),
        factors);
    checkFinite(s.x(), l);
    return s;
  }

  /**
   * Σ_S (Q_Gᵀδ)² ⊗ (Q_Aᵀā)² of a one-position layer in float32, out × c: the EKFAC leave-out's
   * subtraction ({@link KroneckerBuild#addProjectedSquares} in double), k·c·(c + out) +
   * k·r·out² multiply-adds.
   */
  static float[] projectedSquares(KroneckerLayer layer, float[] qa, float[] qg, float[] inputs,
      float[] cotangents, int k, int r) {
    int c = layer.columns();
    int o = layer.out();
    float[] abar = KroneckerLargeSolve.single(layer.augmentedInputs(
        KroneckerBuild.firstRowsOf(inputs, k, r, layer.in()), k));
    float[] at = new float[k * c];
    Linalg.multiply(false, false, k, c, c, abar, qa, at);
    float[] dt = new float[k * r * o];
    Linalg.multiply(false, false, k * r, o, o, cotangents, qg, dt);
    return squares(at, dt, k, r, o, c);
  }

  /**
   * Σ_S (Q_Gᵀδ)² ⊗ (Q_Aᵀā)² from the projected rows {@code at} = ĀQ_A [k, c] and {@code dt} =
   * ΔQ_G [k·r, out] (neither changed).
   */
  private static float[] squares(float[] at, float[] dt, int k, int r, int o, int c) {
    float[] a2 = new float[at.length];
    for (int i = 0; i < at.length; i++) {
      a2[i] = at[i] * at[i];
    }
    float[] s = new float[k * o];
    for (int i = 0; i < k * r; i++) {
      int row = i / r * o;
      for (int x = 0; x < o; x++) {
        float v = dt[i * o + x];
        s[row + x] += v * v;
      }
    }
    float[] sum = new float[o * c];
    Linalg.multiply(true, false, o, c, k, s, a2, sum);
    return sum;
  }

  /** An EKFAC downdate keeps the bases and Λ_A, Λ_G: copied as stored (float32). */
  private static void keepBasis(KroneckerInverse inverse, int l, FisherStore.Writer downdate) {
    for (byte part : new byte[] {Kronecker.Q_A, Kronecker.Q_G, Kronecker.LAMBDA_A,
        Kronecker.LAMBDA_G}) {
      downdate.putPart(l, part, inverse.floats(l, part));
    }
  }

  /** EKFAC in double: {Q_A, Q_G, Λ*₋S}, the downdate's parts written. */
  private static double[][] ekfacDowndate(KroneckerInverse inverse, int l, KroneckerLayer layer,
      LayerInputs in, int k, int r, long n, FisherStore.Writer downdate) {
    double[] qa = inverse.part(l, Kronecker.Q_A);
    double[] qg = inverse.part(l, Kronecker.Q_G);
    double[] lambda = inverse.part(l, Kronecker.LAMBDA_E);
    double nr = (double) n * r;
    double kept = (double) (n - k) * r;
    for (int i = 0; i < lambda.length; i++) {
      lambda[i] *= nr;
    }
    KroneckerBuild.addProjectedSquares(layer, qa, qg, in.inputs()[l], in.cotangents()[l], k, r,
        -1.0, lambda);
    for (int i = 0; i < lambda.length; i++) {
      lambda[i] = Math.max(0, lambda[i] / kept);
    }
    if (downdate != null) {
      keepBasis(inverse, l, downdate);
      downdate.putPart(l, Kronecker.LAMBDA_E, lambda);
    }
    return new double[][] {qa, qg, lambda};
  }

  /** KFAC: A₋S and G₋S eigendecomposed again: {Q_A, Q_G, Λ_G ⊗ Λ_A}, the downdate's parts written. */
  private static double[][] kfacDowndate(KroneckerInverse inverse, int l, KroneckerLayer layer,
      LayerInputs in, int k, int r, long n, FisherStore.Writer downdate) {
    int c = layer.columns();
    int o = layer.out();
    double kept = (double) (n - k) * r;
    double[] qa = inverse.part(l, Kronecker.A);
    double[] qg = inverse.part(l, Kronecker.G);
    scale(qa, n);
    scale(qg, (double) n * r);
    int t = layer.positions();
    double[] abar = layer.augmentedInputs(
        KroneckerBuild.firstRowsOf(in.inputs()[l], k, r, layer.in() * t), k);
    Linalg.rankUpdateUpper(abar, k * t, -1.0, qa, c);
    Linalg.rankUpdateUpper(layer.cotangentRows(in.cotangents()[l], k * r), k * r * t,
        -1.0 / t, qg, o);
    KroneckerBuild.mirrorScale(qa, c, 1.0 / (n - k));
    KroneckerBuild.mirrorScale(qg, o, 1.0 / kept);
    if (downdate != null) {
      downdate.putPart(l, Kronecker.A, qa);
      downdate.putPart(l, Kronecker.G, qg);
    }
    double[] la = new double[c];
    double[] lg = new double[o];
    Linalg.symmetricEigen(qa, c, la);
    Linalg.symmetricEigen(qg, o, lg);
    KroneckerBuild.clampNonNegative(la);
    KroneckerBuild.clampNonNegative(lg);
    if (downdate != null) {
      downdate.putPart(l, Kronecker.Q_A, qa);
      downdate.putPart(l, Kronecker.Q_G, qg);
      downdate.putPart(l, Kronecker.LAMBDA_A, la);
      downdate.putPart(l, Kronecker.LAMBDA_G, lg);
    }
    return new double[][] {qa, qg, KroneckerInverse.outer(lg, la, o, c)};
  }

  private static void checkFinite(float[] x, int l) {
    for (float v : x) {
      if (!Float.isFinite(v)) {
        throw notFinite(l);
      }
    }
  }

  private static LetheException notFinite(int l) {
    return LetheException.precondition("leave-out: the solve of layer " + l + " is not finite");
  }

  private static void scale(double[] m, double s) {
    for (int i = 0; i < m.length; i++) {
      m[i] *= s;
    }
  }

  /** The erased samples' layer inputs, as the build made them (ids key MONTE_CARLO draws). */
  static LayerInputs inputs(ModelView view, FisherHeader h, Samples erased) {
    FisherRows rows = FisherRows.recomputing(view, h);
    FisherRows.Cotangents ct = rows.cotangents(erased, -1);
    return view.layerInputs(ct.rows(), ct.cotangent());
  }
}
