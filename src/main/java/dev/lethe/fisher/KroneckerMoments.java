package dev.lethe.fisher;

import java.util.List;

/**
 * The convergence moments ({@link Convergence}) of a KFAC/EKFAC build, from each dense layer's
 * inputs and output cotangents at the true labels instead of per-sample gradients of all P
 * entries (which a model large enough for these structures cannot afford per sample). With
 * D_i = Σ_t δ_it ā_itᵀ a layer's data gradient of sample i and M the layer's part of μθ:
 *
 * <pre>
 *   Σ_i ∇l_i            = Σ_i D_i (one product Δᵀ Ā per batch) + n·M
 *   |∇l_i|² (the layer) = |D_i|² + 2 Σ_t δ_itᵀ M ā_it + |M|²,
 *   |D_i|²              = Σ_t Σ_t' (δ_it · δ_it')(ā_it · ā_it')   (T = 1: |δ_i|² |ā_i|²)
 * </pre>
 *
 * and the other parameters' per-sample gradients (plus their μθ) as they come. The result equals
 * {@link Convergence.Moments} over the full per-sample gradients (KroneckerConvergenceTest).
 *
 * <p>Cost per batch and layer: the product Δᵀ Ā, and Ā Mᵀ when μ > 0. Heap: 2·P doubles (the
 * sums and μθ). Not thread-safe (the build's thread).
 */
final class KroneckerMoments {
  private final Kronecker k;
  private final double[][] l2;
  private final double[] l2Squares;
  private final double[] l2Others;
  private final double[][] sums;
  private final double[] otherSums;
  private double squares;
  private long samples;

  /** @param l2Term μθ [P] in spec order ({@link ModelView#l2Term()}) */
  KroneckerMoments(Kronecker k, float[] l2Term) {
    this.k = k;
    double[] theta = new double[l2Term.length];
    for (int j = 0; j < theta.length; j++) {
      theta[j] = l2Term[j];
    }
    List<KroneckerLayer> layers = k.layers();
    this.l2 = new double[layers.size()][];
    this.l2Squares = new double[layers.size()];
    this.sums = new double[layers.size()][];
    for (int l = 0; l < layers.size(); l++) {
      KroneckerLayer layer = layers.get(l);
      l2[l] = new double[(int) layer.entries()];
      layer.gather(theta, k.offsets(), l2[l]);
      l2Squares[l] = dot(l2[l], 0, l2[l], 0, l2[l].length);
      sums[l] = new double[(int) layer.entries()];
    }
    this.l2Others = k.gatherOthers(theta);
    this.otherSums = new double[l2Others.length];
  }

  /** Adds n samples' inputs at their true labels (one cotangent row per sample). */
  void add(LayerInputs in, int n) {
    double[] perSample = new double[n];
    List<KroneckerLayer> layers = k.layers();
    for (int l = 0; l < layers.size(); l++) {
      KroneckerLayer layer = layers.get(l);
      int t = layer.positions();
      int o = layer.out();
      int c = layer.columns();
      double[] delta = layer.cotangentRows(in.cotangents()[l], n);
      double[] abar = layer.augmentedInputs(in.inputs()[l], n);
      double[] d = new double[o * c];
      Linalg.multiply(true, false, o, c, n * t, delta, abar, d);
      for (int i = 0; i < d.length; i++) {
        sums[l][i] += d[i];
      }
      double m2 = l2Squares[l];
      double[] mA = null; // rows M ā_it; none without an L2 term
      if (m2 > 0) {
        mA = new double[n * t * o];
        Linalg.multiply(false, true, n * t, o, c, abar, l2[l], mA);
      }
      for (int s = 0; s < n; s++) {
        double norm = 0;
        double cross = 0;
        for (int p = 0; p < t; p++) {
          int rp = s * t + p;
          cross += mA == null ? 0 : dot(delta, rp * o, mA, rp * o, o);
          for (int q = 0; q < t; q++) {
            int rq = s * t + q;
            norm += dot(delta, rp * o, delta, rq * o, o) * dot(abar, rp * c, abar, rq * c, c);
          }
        }
        perSample[s] += norm + 2 * cross + m2;
      }
    }
    int w = in.otherColumns();
    float[] others = in.others();
    for (int s = 0; s < n; s++) {
      double sq = 0;
      for (int j = 0; j < w; j++) {
        double g = others[s * w + j] + l2Others[j];
        otherSums[j] += others[s * w + j];
        sq += g * g;
      }
      squares += perSample[s] + sq;
    }
    samples += n;
  }

  /** |∇L_D(θ)| and the per-sample RMS over the samples added; UNKNOWN when none were. */
  Convergence result() {
    if (samples == 0) {
      return Convergence.UNKNOWN;
    }
    double mean = 0;
    for (int l = 0; l < sums.length; l++) {
      for (int i = 0; i < sums[l].length; i++) {
        double m = sums[l][i] / samples + l2[l][i];
        mean += m * m;
      }
    }
    for (int j = 0; j < otherSums.length; j++) {
      double m = otherSums[j] / samples + l2Others[j];
      mean += m * m;
    }
    return new Convergence(Math.sqrt(mean), Math.sqrt(squares / samples));
  }

  private static double dot(double[] x, int xo, double[] y, int yo, int len) {
    double s = 0;
    for (int i = 0; i < len; i++) {
      s += x[xo + i] * y[yo + i];
    }
    return s;
  }
}
