package dev.lethe.fisher;

import dev.lethe.core.Batches;
import dev.lethe.core.Samples;
import java.util.List;

/**
 * Σ_{i∈S} ∇l_i of an erase for a model whose Fisher is KFAC/EKFAC, with each dense layer's data
 * term kept as its factors: Σ_i Σ_t δ_it ā_itᵀ = Δᵀ Ā, Δ [R × out] the output cotangent rows
 * and Ā [R × c] the augmented input rows of the layer (R = k·T, T its positions), made by one
 * run of the FACTORS graph. The other parameters' sum is dense, and the L2 term k·μ·θ of every
 * sample is kept as the scale k·μ and the weights θ of {@link #version()}.
 *
 * <p>A large layer's solve projects the data term into the Fisher's eigenbasis as
 * (ΔQ_G)ᵀ(ĀQ_A), R·(out² + c² + out·c) multiply-adds, instead of the out·c·(out + c) the dense
 * matrix costs ({@link KroneckerLargeSolve}); a layer whose R passes {@link #maxRank} (where
 * that stops paying), and every layer not {@link KroneckerLayer#singlePrecision}, is summed
 * densely here instead.
 *
 * <p>Immutable after construction; owns its arrays (double, row-major). Not thread-safe to
 * build, safe to read from any thread.
 */
public final class FactoredGradient {
  private final Kronecker kronecker;
  private final long parameters;
  private final double[][] deltas;
  private final double[][] inputs;
  private final int[] ranks;
  private final double[][] dense;
  private final double[] others;
  private final double l2;
  private final float[] theta;
  private final long version;
  /** The one pass's layer inputs and cotangents (all samples in one chunk), else null. */
  private LayerInputs pass;
  private Samples passSamples;

  private FactoredGradient(FisherHeader h, double l2, float[] theta, long version) {
    this(h.kronecker(), h.parameterCount(), l2, theta, version);
  }

  private FactoredGradient(Kronecker kronecker, long parameters, double l2, float[] theta,
      long version) {
    this.kronecker = kronecker;
    this.parameters = parameters;
    int layers = kronecker.layers().size();
    this.deltas = new double[layers][];
    this.inputs = new double[layers][];
    this.ranks = new int[layers];
    this.dense = new double[layers][];
    this.others = new double[(int) kronecker.otherEntries()];
    this.l2 = l2;
    this.theta = theta;
    this.version = version;
  }

  /**
   * The erase's gradient sum at {@code model}'s weights: the data loss of {@code s} (true
   * labels) through the FACTORS graph, in chunks of 1 024 samples, plus k·μ·θ.
   *
   * @param mu the spec's L2 coefficient μ (0: none)
   * @param theta the weights of {@code model}, [P] (kept, not copied); may be null when μ = 0
   * @param version the version {@code theta} belongs to (keys the projected weights)
   */
  public static FactoredGradient of(ModelView model, FisherHeader h, Samples s, double mu,
      float[] theta, long version) {
    if (mu != 0 && (theta == null || theta.length != h.parameterCount())) {
      throw new IllegalArgumentException((theta == null ? 0 : theta.length) + " weights for a Fisher of "
          + h.parameterCount() + " parameters");
    }
    FactoredGradient g = new FactoredGradient(h, mu * s.size(), theta, version);
    FisherRows rows = new FisherRows(model, CurvatureKind.EMPIRICAL, 1, 0, false);
    int step = 1024;
    for (int from = 0; from < s.size(); from += step) {
      int to = Math.min(s.size(), from + step);
      Samples part = from == 0 && to == s.size() ? s : Batches.range(s, from, to);
      FisherRows.Cotangents ct = rows.cotangents(part, 0);
      LayerInputs in = model.layerInputs(ct.rows(), ct.cotangent());
      g.add(in, to - from);
      g.pass = to - from == s.size() ? in : null;
      g.passSamples = s;
    }
    g.addL2ToOthers();
    return g;
  }

  /**
   * Σ_S ∇l_i of the data loss (no L2 term) at {@code model}'s weights, [P] in double, for a
   * KFAC/EKFAC Fisher's model: each layer's sum is Σ_i Σ_t δ_it ā_itᵀ — one matrix product over
   * the layer inputs and output cotangents of the FACTORS graph — instead of k per-sample
   * outer products; the other parameters' per-sample gradients are summed. Labels required.
   */
  static double[] layerGradientSum(ModelView model, FisherHeader h, Samples s) {
    return of(model, h, s, 0, null, -1).dense();
  }

  /**
   * The layer inputs and cotangents this sum was made from, when they are also what the
   * leave-out step of the Fisher {@code h} would make for {@code erased}, the very samples this
   * sum was made of: an EMPIRICAL Fisher
   * (one row per sample, the loss's own cotangent at the true label, as here) built at this
   * sum's version, every sample in one pass. Null otherwise: the rows are made again at the
   * Fisher's weights ({@link KroneckerLeaveOut#inputs}).
   */
  LayerInputs fisherRows(FisherHeader h, Samples erased) {
    boolean same = erased == passSamples && h.kind() == CurvatureKind.EMPIRICAL
        && h.rows().perSample() == 1 && version >= 0 && h.modelVersion() == version;
    return same ? pass : null;
  }

  /**
   * A gradient sum already dense, [P] (its L2 term included): every layer dense, nothing to
   * project or keep (a CalibrateScale curve, a dense caller).
   */
  static FactoredGradient ofDense(FisherHeader h, double[] g) {
    if (g.length != h.parameterCount()) {
      throw new IllegalArgumentException("a vector of " + g.length + " for a Fisher of "
          + h.parameterCount() + " parameters");
    }
    FactoredGradient f = new FactoredGradient(h, 0, null, -1);
    List<KroneckerLayer> layers = f.kronecker.layers();
    for (int l = 0; l < layers.size(); l++) {
      f.dense[l] = new double[(int) layers.get(l).entries()];
      layers.get(l).gather(g, f.kronecker.offsets(), f.dense[l]);
    }
    System.arraycopy(f.kronecker.gatherOthers(g), 0, f.others, 0, f.others.length);
    return f;
  }

  /**
   * A sum given by its factors (tests): layer l's data term Δ_lᵀĀ_l with Δ_l [R_l, out] and
   * Ā_l [R_l, c] row-major, whatever the layer's size; no other parameters.
   */
  static FactoredGradient ofFactors(Kronecker k, long parameters, double[][] deltas,
      double[][] inputs, double l2, float[] theta, long version) {
    FactoredGradient g = new FactoredGradient(k, parameters, l2, theta, version);
    for (int l = 0; l < deltas.length; l++) {
      g.deltas[l] = deltas[l];
      g.inputs[l] = inputs[l];
      g.ranks[l] = deltas[l].length / k.layers().get(l).out();
    }
    return g;
  }

  private void add(LayerInputs in, int m) {
    List<KroneckerLayer> layers = kronecker.layers();
    for (int l = 0; l < layers.size(); l++) {
      KroneckerLayer layer = layers.get(l);
      int t = layer.positions();
      double[] delta = layer.cotangentRows(in.cotangents()[l], m);
      double[] input = layer.augmentedInputs(in.inputs()[l], m);
      int r = m * t;
      if (dense[l] == null && layer.singlePrecision()
          && ranks[l] + r <= maxRank(layer)) {
        deltas[l] = append(deltas[l], delta);
        inputs[l] = append(inputs[l], input);
        ranks[l] += r;
        continue;
      }
      if (dense[l] == null) {
        dense[l] = new double[(int) layer.entries()];
        if (ranks[l] > 0) {
          Linalg.multiplyAdd(true, false, layer.out(), layer.columns(), ranks[l], deltas[l],
              inputs[l], dense[l]);
        }
        deltas[l] = null;
        inputs[l] = null;
        ranks[l] = 0;
      }
      Linalg.multiplyAdd(true, false, layer.out(), layer.columns(), r, delta, input, dense[l]);
    }
    int w = in.otherColumns();
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < others.length; j++) {
        others[j] += in.others()[i * w + j];
      }
    }
  }

  private void addL2ToOthers() {
    if (l2 == 0) {
      return;
    }
    int pos = 0;
    for (int i : kronecker.others()) {
      for (long q = kronecker.offsets()[i]; q < kronecker.offsets()[i + 1]; q++) {
        others[pos++] += l2 * theta[(int) q];
      }
    }
  }

  /**
   * The rank above which the layer's data term is summed densely: where R·(out² + c² + out·c)
   * reaches half the dense projection's out·c·(out + c) (skinny products run below GEMM's
   * peak rate). 877 for a 2048 × 4097 layer.
   */
  static int maxRank(KroneckerLayer layer) {
    double o = layer.out();
    double c = layer.columns();
    return (int) Math.min(Integer.MAX_VALUE / Math.max(o, c),
        o * c * (o + c) / (2 * (o * o + c * c + o * c)));
  }

  private static double[] append(double[] a, double[] b) {
    if (a == null) {
      return b;
    }
    double[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  /** Whether layer {@code l}'s data term is kept as factors (else {@link #layerDense}). */
  boolean factored(int l) {
    return dense[l] == null && ranks[l] > 0;
  }

  /** R of a factored layer. */
  int rank(int l) {
    return ranks[l];
  }

  /** Δ of a factored layer, [R, out]. */
  double[] delta(int l) {
    return deltas[l];
  }

  /** Ā of a factored layer, [R, c]. */
  double[] input(int l) {
    return inputs[l];
  }

  /** k·μ (0 without an L2 term). */
  double l2() {
    return l2;
  }

  /** θ, [P]. */
  float[] theta() {
    return theta;
  }

  /** The version θ belongs to. */
  public long version() {
    return version;
  }

  /** The layer's whole gradient D = ΔᵀĀ + k·μ·W_l, out × c row-major (a new array). */
  double[] layerDense(int l) {
    KroneckerLayer layer = kronecker.layers().get(l);
    double[] d = dense[l] != null ? dense[l].clone() : new double[(int) layer.entries()];
    if (factored(l)) {
      Linalg.multiplyAdd(true, false, layer.out(), layer.columns(), ranks[l], deltas[l],
          inputs[l], d);
    }
    if (l2 != 0) {
      float[] w = layer.gather(theta, kronecker.offsets());
      for (int i = 0; i < d.length; i++) {
        d[i] += l2 * w[i];
      }
    }
    return d;
  }

  /** The other parameters' entries (with their L2 term), compact ({@link Kronecker#gatherOthers}). */
  double[] others() {
    return others;
  }

  /** The whole sum Σ∇l_i + k·μ·θ, [P] in double (what the dense path and tests use). */
  public double[] dense() {
    double[] g = new double[(int) parameters];
    for (int l = 0; l < deltas.length; l++) {
      kronecker.layers().get(l).scatter(layerDense(l), kronecker.offsets(), g);
    }
    kronecker.scatterOthers(others, g);
    return g;
  }
}
