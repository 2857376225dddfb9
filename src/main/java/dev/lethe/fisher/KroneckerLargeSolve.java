package dev.lethe.fisher;

/**
 * One large layer's solve D' = Q_G [(Q_Gᵀ D Q_A) ⊘ (Λ + λ)] Q_Aᵀ in float32 (SGEMM, about 2×
 * DGEMM's rate; the bases are stored in float32), from an erase's {@link FactoredGradient}
 * without forming D when the data term is factored:
 *
 * <pre>
 *   Q_Gᵀ D Q_A = (Δ Q_G)ᵀ (Ā Q_A) + k·μ·θ̃,    θ̃ = Q_Gᵀ W Q_A
 * </pre>
 *
 * The first term costs R·(out² + c² + out·c) multiply-adds instead of the dense projection's
 * out·c·(out + c); θ̃, the layer's weights projected into the basis, is a full projection,
 * which {@link ProjectedWeights} keeps between erases (θ̃ of the next version is
 * θ̃ + s·M, M the middle matrix returned here). The back-projection is always dense.
 *
 * <p>Stateless; runs on the caller's thread (BLAS threads underneath). Shapes: Q_A c × c, Q_G
 * out × out (eigenvectors in columns), Λ and every result out × c, all row-major.
 */
final class KroneckerLargeSolve {
  private KroneckerLargeSolve() {}

  /**
   * @param x D', the layer's part of F⁻¹g
   * @param middle M = (Q_Gᵀ D Q_A) ⊘ (Λ + λ)
   * @param projected θ̃ used (null when the gradient has no L2 term or D was formed densely)
   */
  record Result(float[] x, float[] middle, float[] projected) {}

  /**
   * @param l the layer's index in {@code g}
   * @param lambda Λ (KFAC: Λ_G ⊗ Λ_A; EKFAC: Λ*, downdated for a leave-out)
   * @param projected θ̃ of {@code g}'s version in this basis, or null to compute it here
   */
  static Result solve(KroneckerLayer layer, int l, float[] qa, float[] qg, float[] lambda,
      double damp, FactoredGradient g, float[] projected, long[] offsets) {
    return solve(layer, l, qa, qg, lambda, damp, g, projected, offsets,
        g.factored(l) ? projectFactors(layer, l, qa, qg, g) : null);
  }

  /**
   * {@link #solve} with the factored layer's projected factors {ΔQ_G [R, out], ĀQ_A [R, c]}
   * already made ({@link #projectFactors}: an EKFAC leave-out whose erased rows are the
   * gradient's shares them); null when the layer is dense.
   */
  static Result solve(KroneckerLayer layer, int l, float[] qa, float[] qg, float[] lambda,
      double damp, FactoredGradient g, float[] projected, long[] offsets, float[][] factors) {
    int o = layer.out();
    int c = layer.columns();
    float[] m;
    float[] used = null;
    if (g.factored(l)) {
      m = new float[o * c];
      Linalg.multiply(true, false, o, c, g.rank(l), factors[0], factors[1], m);
      if (g.l2() != 0) {
        used = projected != null ? projected : project(qa, qg, layer.gather(g.theta(), offsets), o, c);
        float s = (float) g.l2();
        for (int i = 0; i < m.length; i++) {
          m[i] += s * used[i];
        }
      }
    } else {
      m = project(qa, qg, single(g.layerDense(l)), o, c);
    }
    return new Result(back(qa, qg, lambda, damp, m, o, c), m, used);
  }

  /** {ΔQ_G [R, out], ĀQ_A [R, c]} of layer l's factors (float32). */
  static float[][] projectFactors(KroneckerLayer layer, int l, float[] qa, float[] qg,
      FactoredGradient g) {
    int o = layer.out();
    int c = layer.columns();
    int r = g.rank(l);
    float[] u = new float[r * o];
    Linalg.multiply(false, false, r, o, o, single(g.delta(l)), qg, u);
    float[] v = new float[r * c];
    Linalg.multiply(false, false, r, c, c, single(g.input(l)), qa, v);
    return new float[][] {u, v};
  }

  /**
   * The whole solve of a dense D in float32, in place: what {@link KroneckerInverse#solve} runs
   * for a large layer of a caller in double (the bases rounded to float32 as stored).
   */
  static void solveDense(int o, int c, double[] qa, double[] qg, double[] lambda, double damp,
      double[] d) {
    float[] fa = single(qa);
    float[] fg = single(qg);
    float[] x = back(fa, fg, single(lambda), damp, project(fa, fg, single(d), o, c), o, c);
    for (int i = 0; i < d.length; i++) {
      d[i] = x[i];
    }
  }

  /** M ← M ⊘ (Λ + λ) in place, then Q_G M Q_Aᵀ (a new array). */
  private static float[] back(float[] qa, float[] qg, float[] lambda, double damp, float[] m,
      int o, int c) {
    float lambdaDamp = (float) damp;
    for (int i = 0; i < m.length; i++) {
      m[i] /= lambda[i] + lambdaDamp;
    }
    float[] t = new float[o * c];
    Linalg.multiply(false, false, o, c, o, qg, m, t);
    float[] x = new float[o * c];
    Linalg.multiply(false, true, o, c, c, t, qa, x);
    return x;
  }

  /** Q_Gᵀ D Q_A, written over {@code d} and returned. */
  static float[] project(float[] qa, float[] qg, float[] d, int o, int c) {
    float[] t = new float[o * c];
    Linalg.multiply(true, false, o, c, o, qg, d, t);
    Linalg.multiply(false, false, o, c, c, t, qa, d);
    return d;
  }

  /** θ̃ of the next version: θ̃ + s·M for the step θ' = θ + s·D' (a new array). */
  static float[] next(float[] projected, float[] middle, double scale) {
    float[] out = new float[projected.length];
    float s = (float) scale;
    for (int i = 0; i < out.length; i++) {
      out[i] = projected[i] + s * middle[i];
    }
    return out;
  }

  static float[] single(double[] x) {
    float[] f = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      f[i] = (float) x[i];
    }
    return f;
  }
}
