package dev.lethe.fisher;

import dev.lethe.core.Samples;
import java.util.List;

/**
 * The sums of a KFAC/EKFAC build, made away from the sidecar (the Spark job's executors and
 * driver), by the very code {@link KroneckerBuild} runs: a batch's layer inputs and cotangents,
 * its contribution to each layer's factor sums Σ ā āᵀ and (1/T) Σ δ δᵀ, the eigenbasis of the
 * normalised factors, and EKFAC's squared projected gradients in a given basis. Stateless; all
 * arrays are row-major doubles owned by the caller, modified only where said.
 */
public final class KroneckerFactors {
  private KroneckerFactors() {}

  /**
   * The layer inputs, output cotangents and other parameters' gradients of a checked batch whose
   * first sample is at stream position {@code position} (MONTE_CARLO draws are keyed by it), for
   * the rows {@code rows} makes ({@link BlockGrams#rows}).
   */
  public static LayerInputs inputs(RowSource rows, ModelView view, Samples checked, long position) {
    FisherRows.Cotangents ct = ((FisherRows) rows).cotangents(checked, position);
    return view.layerInputs(ct.rows(), ct.cotangent());
  }

  /** The dense layers {@code view} factors (as BuildPlan resolves them). */
  public static List<KroneckerLayer> layers(ModelView view) {
    return view.kroneckerLayers();
  }

  /**
   * Adds n samples' (r rows each) terms to layer {@code layer}'s sums: {@code a} (c × c) +=
   * Σ ā āᵀ, {@code g} (out × out) += (1/T) Σ δ δᵀ, upper triangles only.
   */
  public static void addFactors(KroneckerLayer layer, float[] inputs, float[] cotangents, int n,
      int r, double[] a, double[] g) {
    KroneckerBuild.addFactors(layer, inputs, cotangents, n, r, a, g);
  }

  /**
   * The eigenbasis a build takes for a layer: the sums' upper triangles (as {@link #addFactors}
   * leaves them) are normalised as the build normalises them (A/n, G/(n·r)), mirrored, and
   * eigendecomposed by the build's own routine. Returns {Q_A, Q_G} (row-major, eigenvectors in
   * the columns); the sums are not modified.
   */
  public static double[][] eigenbasis(double[] aSum, int c, double[] gSum, int o, long samples,
      double rows) {
    double[] a = aSum.clone();
    double[] g = gSum.clone();
    KroneckerBuild.mirrorScale(a, c, 1.0 / samples);
    KroneckerBuild.mirrorScale(g, o, 1.0 / rows);
    KroneckerBuild.eigenbasis(a, c, g, o);
    return new double[][] {a, g};
  }

  /**
   * e (out × c) += the squared per-sample gradients of k samples (r rows each) projected into the
   * basis (Q_A, Q_G): EKFAC's second pass.
   */
  public static void addProjectedSquares(KroneckerLayer layer, double[] qa, double[] qg,
      float[] inputs, float[] cotangents, int k, int r, double[] e) {
    KroneckerBuild.addProjectedSquares(layer, qa, qg, inputs, cotangents, k, r, 1.0, e);
  }
}
