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
   * @param downdate where F₋S goes (uncommitted), or null
   * @return x and how the blocks were solved
   */
  static LeaveOut.Result solve(KroneckerInverse inverse, LayerInputs in, int k, double[] g,
      FisherStore.Writer downdate, ExecutorService pool, int tasks, long rowBudget) {
    FisherHeader h = inverse.header();
    Kronecker kr = h.kronecker();
    long n = h.samples();
    int r = h.rows().perSample();
    if (g.length != h.parameterCount()) {
      throw new IllegalArgumentException("a vector of " + g.length + " for a Fisher of "
          + h.parameterCount() + " parameters");
    }
    if (k < 1 || k >= n) {
      throw LetheException.precondition("leave-out: cannot remove " + k + " of the Fisher's " + n
          + " samples");
    }
    double[] x = new double[g.length];
    int woodbury = 0;
    int refactor = 0;
    if (inverse.blocks() != null) {
      ErasedRows rows = ErasedRows.ofArray(in.others(), k, r, in.otherColumns());
      LeaveOut.Result blocks = LeaveOut.solve(inverse.blocks(), rows, kr.gatherOthers(g),
          downdate, pool, tasks, rowBudget,
          downdate != null ? LeaveOut.Path.REFACTOR : LeaveOut.Path.AUTO);
      kr.scatterOthers(blocks.x(), x);
      woodbury = blocks.woodburyBlocks();
      refactor = blocks.refactorBlocks();
    }
    List<KroneckerLayer> layers = kr.layers();
    double nr = (double) n * r;
    double kept = (double) (n - k) * r;
    for (int l = 0; l < layers.size(); l++) {
      KroneckerLayer layer = layers.get(l);
      int c = layer.columns();
      int o = layer.out();
      double[] qa;
      double[] qg;
      double[] lambda;
      if (h.structure() == FisherStructure.EKFAC) {
        qa = inverse.part(l, Kronecker.Q_A);
        qg = inverse.part(l, Kronecker.Q_G);
        lambda = inverse.part(l, Kronecker.LAMBDA_E);
        for (int i = 0; i < lambda.length; i++) {
          lambda[i] *= nr;
        }
        KroneckerBuild.addProjectedSquares(layer, qa, qg, in.inputs()[l], in.cotangents()[l], k, r,
            -1.0, lambda);
        for (int i = 0; i < lambda.length; i++) {
          lambda[i] = Math.max(0, lambda[i] / kept);
        }
        if (downdate != null) {
          downdate.putPart(l, Kronecker.Q_A, qa);
          downdate.putPart(l, Kronecker.Q_G, qg);
          downdate.putPart(l, Kronecker.LAMBDA_A, inverse.part(l, Kronecker.LAMBDA_A));
          downdate.putPart(l, Kronecker.LAMBDA_G, inverse.part(l, Kronecker.LAMBDA_G));
          downdate.putPart(l, Kronecker.LAMBDA_E, lambda);
        }
      } else {
        qa = inverse.part(l, Kronecker.A);
        qg = inverse.part(l, Kronecker.G);
        scale(qa, n);
        scale(qg, nr);
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
        lambda = KroneckerInverse.outer(lg, la, o, c);
      }
      double[] d = new double[(int) layer.entries()];
      layer.gather(g, kr.offsets(), d);
      KroneckerInverse.solve(layer, qa, qg, lambda, h.dampening(), d);
      for (double v : d) {
        if (!Double.isFinite(v)) {
          throw LetheException.precondition("leave-out: the solve of layer " + l + " is not finite");
        }
      }
      layer.scatter(d, kr.offsets(), x);
    }
    return new LeaveOut.Result(x, woodbury, refactor + layers.size(), 1);
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
