package dev.lethe.fisher;

import java.util.List;
import java.util.concurrent.ExecutorService;

/**
 * A stored KFAC or EKFAC Fisher applied: per dense layer, with D the layer's entries of v as an
 * out × c matrix ({@link KroneckerLayer}),
 *
 * <pre>
 *   F⁻¹v = (Q_A ⊗ Q_G)(Λ + λ)⁻¹(Q_A ⊗ Q_G)ᵀ v   ⇔   D' = Q_G [(Q_Gᵀ D Q_A) ⊘ (Λ + λ)] Q_Aᵀ
 * </pre>
 *
 * with Λ[o][j] = Λ_G[o]·Λ_A[j] (KFAC) or the corrected eigenvalues Λ* (EKFAC): four matrix
 * products per layer (DGEMM; SGEMM for layers whose D, A or G has 2²⁰ entries or more,
 * {@link KroneckerLargeSolve#solveDense}). The other parameters go through their blocks
 * ({@link FisherInverse}). Each apply reads the layer's parts from RocksDB (CRC32C checked) and
 * holds one layer's at a time; nothing is cached.
 *
 * <p>Thread-safe. Does not own the pool; close before the database closes.
 */
final class KroneckerInverse implements OpenFisher {
  /**
   * Layers whose D (out × c), A (c × c) or G (out × out) has at least this many entries are
   * solved in float32 ({@link KroneckerLayer#singlePrecision}, {@link KroneckerLargeSolve});
   * smaller ones, where the products are cheap, in double.
   */
  static final long SINGLE_PRECISION_ENTRIES = 1L << 20;

  private final FisherStore store;
  private final String model;
  private final String fisherId;
  private final FisherHeader header;
  private final FisherInverse blocks;
  private final KroneckerPartCache parts;

  KroneckerInverse(FisherStore store, String model, String fisherId, FisherHeader header,
      ExecutorService pool, int parallelism) {
    this(store, model, fisherId, header, pool, parallelism, null);
  }

  /** @param parts where large layers' float32 parts are kept between erases, or null */
  KroneckerInverse(FisherStore store, String model, String fisherId, FisherHeader header,
      ExecutorService pool, int parallelism, KroneckerPartCache parts) {
    this.parts = parts;
    this.store = store;
    this.model = model;
    this.fisherId = fisherId;
    this.header = header;
    this.blocks = header.layout().blockCount() == 0 ? null
        : new FisherInverse(store, model, fisherId, header, pool, parallelism, true);
  }

  @Override
  public String fisherId() {
    return fisherId;
  }

  @Override
  public FisherHeader header() {
    return header;
  }

  /** The other parameters' blocks, or null when every parameter is in a layer. */
  FisherInverse blocks() {
    return blocks;
  }

  String model() {
    return model;
  }

  FisherStore store() {
    return store;
  }

  /** Part {@code part} of layer {@code l} (verified). */
  double[] part(int l, byte part) {
    return store.readPart(model, fisherId, header, l, part);
  }

  /** Λ of layer l, out × c: Λ_G ⊗ Λ_A for KFAC, Λ* for EKFAC. */
  double[] eigenvalues(int l) {
    KroneckerLayer layer = header.kronecker().layers().get(l);
    if (header.structure() == FisherStructure.EKFAC) {
      return part(l, Kronecker.LAMBDA_E);
    }
    return outer(part(l, Kronecker.LAMBDA_G), part(l, Kronecker.LAMBDA_A), layer.out(),
        layer.columns());
  }

  static double[] outer(double[] lg, double[] la, int o, int c) {
    double[] e = new double[o * c];
    for (int x = 0; x < o; x++) {
      for (int j = 0; j < c; j++) {
        e[x * c + j] = lg[x] * la[j];
      }
    }
    return e;
  }

  @Override
  public void apply(double[] v, double[] out) {
    Kronecker k = header.kronecker();
    long p = header.parameterCount();
    if (v.length != p || out.length != p) {
      throw new IllegalArgumentException("vectors must have " + p + " entries, got " + v.length
          + " and " + out.length);
    }
    if (blocks != null) {
      double[] x = k.gatherOthers(v);
      double[] y = new double[x.length];
      blocks.apply(x, y);
      k.scatterOthers(y, out);
    }
    List<KroneckerLayer> layers = k.layers();
    for (int l = 0; l < layers.size(); l++) {
      KroneckerLayer layer = layers.get(l);
      double[] d = new double[(int) layer.entries()];
      layer.gather(v, k.offsets(), d);
      solve(layer, part(l, Kronecker.Q_A), part(l, Kronecker.Q_G), eigenvalues(l),
          header.dampening(), d);
      layer.scatter(d, k.offsets(), out);
    }
  }

  /**
   * F⁻¹g for an erase's factored gradient: {@link KroneckerLayer#singlePrecision} layers
   * through {@link KroneckerLargeSolve} (their parts read in float32, θ̃ from
   * {@code projected} where given, else computed), the others through {@link #solve} in double.
   *
   * @param projected θ̃ per layer of g's version in this Fisher's basis, or null
   * @param basis this Fisher's basis key (kept in the step for the next version's θ̃)
   */
  KroneckerStep apply(FactoredGradient g, float[][] projected, String basis) {
    Kronecker k = header.kronecker();
    double[] x = new double[(int) header.parameterCount()];
    if (blocks != null) {
      double[] y = new double[g.others().length];
      blocks.apply(g.others(), y);
      k.scatterOthers(y, x);
    }
    List<KroneckerLayer> layers = k.layers();
    float[][] used = new float[layers.size()][];
    float[][] middle = new float[layers.size()][];
    for (int l = 0; l < layers.size(); l++) {
      KroneckerLayer layer = layers.get(l);
      if (!layer.singlePrecision()) {
        double[] d = g.layerDense(l);
        solve(layer, part(l, Kronecker.Q_A), part(l, Kronecker.Q_G), eigenvalues(l),
            header.dampening(), d);
        layer.scatter(d, k.offsets(), x);
        continue;
      }
      KroneckerLargeSolve.Result r = KroneckerLargeSolve.solve(layer, l,
          floats(l, Kronecker.Q_A), floats(l, Kronecker.Q_G), eigenvaluesSingle(l),
          header.dampening(), g, projected == null ? null : projected[l], k.offsets());
      layer.scatter(r.x(), k.offsets(), x);
      used[l] = r.projected();
      middle[l] = r.middle();
    }
    return new KroneckerStep(x, basis, g.version(), used, middle);
  }

  /**
   * Part {@code part} of layer {@code l} in float32 as stored (verified; unpacked parts), kept
   * in the part cache when there is one: shared, callers must not modify it.
   */
  float[] floats(int l, byte part) {
    if (parts == null) {
      return store.readPartFloats(model, fisherId, header, l, part);
    }
    return parts.get(model, fisherId, l, part,
        () -> store.readPartFloats(model, fisherId, header, l, part));
  }

  /**
   * Reads the float32 parts of every {@link KroneckerLayer#singlePrecision} layer (kept in the
   * part cache while the Fisher memory has room) and, given θ [P] (spec order), returns θ̃ =
   * Q_Gᵀ W Q_A per such layer (null for the others): what a build's end does so that the first
   * erase finds them. Null without θ.
   */
  float[][] warm(float[] theta) {
    Kronecker k = header.kronecker();
    List<KroneckerLayer> layers = k.layers();
    float[][] projected = theta == null ? null : new float[layers.size()][];
    for (int l = 0; l < layers.size(); l++) {
      KroneckerLayer layer = layers.get(l);
      if (!layer.singlePrecision()) {
        continue;
      }
      float[] qa = floats(l, Kronecker.Q_A);
      float[] qg = floats(l, Kronecker.Q_G);
      if (header.structure() == FisherStructure.EKFAC) {
        floats(l, Kronecker.LAMBDA_E);
      }
      if (projected != null) {
        projected[l] = KroneckerLargeSolve.project(qa, qg, layer.gather(theta, k.offsets()),
            layer.out(), layer.columns());
      }
    }
    return projected;
  }

  /** {@link #eigenvalues} in float32 (EKFAC's Λ* as stored and kept; KFAC's formed). */
  float[] eigenvaluesSingle(int l) {
    return header.structure() == FisherStructure.EKFAC ? floats(l, Kronecker.LAMBDA_E)
        : KroneckerLargeSolve.single(eigenvalues(l));
  }

  /**
   * d ← Q_G [(Q_Gᵀ d Q_A) ⊘ (Λ + λ)] Q_Aᵀ in place, d out × c row-major, Q_A c × c, Q_G
   * out × out (eigenvectors in columns), Λ out × c.
   */
  static void solve(KroneckerLayer layer, double[] qa, double[] qg, double[] lambda, double damp,
      double[] d) {
    int o = layer.out();
    int c = layer.columns();
    if (layer.singlePrecision()) {
      KroneckerLargeSolve.solveDense(o, c, qa, qg, lambda, damp, d);
      return;
    }
    double[] t = new double[o * c];
    Linalg.multiply(true, false, o, c, o, qg, d, t);
    Linalg.multiply(false, false, o, c, c, t, qa, d);
    for (int i = 0; i < d.length; i++) {
      d[i] /= lambda[i] + damp;
    }
    Linalg.multiply(false, false, o, c, o, qg, d, t);
    Linalg.multiply(false, true, o, c, c, t, qa, d);
  }

  @Override
  public void close() {
    if (blocks != null) {
      blocks.close();
    }
  }
}
