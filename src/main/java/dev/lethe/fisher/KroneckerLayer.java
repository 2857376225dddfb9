package dev.lethe.fisher;

import java.util.List;

/**
 * A layer whose per-sample gradient is a sum of outer products Σ_t δ_t ā_tᵀ over its T
 * positions (a Gemm/MatMul weight: T = 1; a Conv weight: the T output positions, ā_t the
 * im2col patch of position t, as in KFC, Grosse &amp; Martens 2016), its bias folded in as a
 * constant input: the gradient is the out × c matrix D with c = in (+1 with the bias),
 * D[o][j] = Σ_t δ_{o,t}·ā_{t,j} where ā_t = (alpha·a_t, beta). Immutable.
 *
 * <p>Layer inputs per row are [in, T] (channel-major patches for a Conv: j = ch·K + k, K the
 * kernel's size), output cotangents [out, T].
 *
 * <p>Index convention: D[o][j] (j &lt; in) is the weight's flattened entry {@code o·in + j} when
 * {@code outMajor} (Gemm transB = 1, weight [out, in]), else {@code j·out + o} (MatMul or Gemm
 * transB = 0, weight [in, out]); D[o][in] is the bias's entry o. Offsets are into the P
 * flattened erasable entries (spec order).
 *
 * @param weight index of the weight among the erasable parameters
 * @param bias index of the bias, or -1
 * @param out output width (the rows of D, G's size)
 * @param in input width without the bias
 * @param outMajor weight stored [out, in]
 * @param alpha the input's scale (Gemm alpha)
 * @param beta the bias's constant input (Gemm beta)
 * @param positions T, the positions summed over (1 for Gemm/MatMul)
 */
public record KroneckerLayer(int weight, int bias, int out, int in, boolean outMajor, double alpha,
    double beta, int positions) {

  /** A Gemm/MatMul layer (one position). */
  public KroneckerLayer(int weight, int bias, int out, int in, boolean outMajor, double alpha,
      double beta) {
    this(weight, bias, out, in, outMajor, alpha, beta, 1);
  }

  /** c, the columns of D and A's size: in, plus one for the bias. */
  public int columns() {
    return in + (bias >= 0 ? 1 : 0);
  }

  /** Entries of the layer: out · c. */
  public long entries() {
    return (long) out * columns();
  }

  /**
   * Whether the layer is solved in float32 ({@link KroneckerLargeSolve}): D (out × c), A
   * (c × c) or G (out × out) has {@link KroneckerInverse#SINGLE_PRECISION_ENTRIES} entries or
   * more. A classifier head of 10 × 2049 is one: its Q_A alone has 4.2 M entries, which the
   * double path converted and read from the store per erase.
   */
  public boolean singlePrecision() {
    long c = columns();
    long t = KroneckerInverse.SINGLE_PRECISION_ENTRIES;
    return entries() >= t || c * c >= t || (long) out * out >= t;
  }

  /**
   * ā rows [k·T, c] in double (position-major per sample) from the layer's inputs a [k, in, T]:
   * alpha·a_t, and beta in the last column when the bias is folded in.
   */
  double[] augmentedInputs(float[] a, int k) {
    int c = columns();
    int t = positions;
    double[] out = new double[k * t * c];
    for (int s = 0; s < k; s++) {
      for (int p = 0; p < t; p++) {
        int row = (s * t + p) * c;
        for (int j = 0; j < in; j++) {
          out[row + j] = alpha * a[(s * in + j) * t + p];
        }
        if (bias >= 0) {
          out[row + in] = beta;
        }
      }
    }
    return out;
  }

  /** δ rows [m·T, out] in double (position-major per row) from cotangents [m, out, T]. */
  double[] cotangentRows(float[] d, int m) {
    int t = positions;
    double[] out = new double[m * t * this.out];
    for (int s = 0; s < m; s++) {
      for (int p = 0; p < t; p++) {
        for (int o = 0; o < this.out; o++) {
          out[(s * t + p) * this.out + o] = d[(s * this.out + o) * t + p];
        }
      }
    }
    return out;
  }

  /** D (row-major out × c) from the P-vector {@code v}; offsets of each parameter's first entry. */
  void gather(double[] v, long[] offsets, double[] d) {
    int c = columns();
    long w = offsets[weight];
    for (int o = 0; o < out; o++) {
      for (int j = 0; j < in; j++) {
        d[o * c + j] = v[(int) (w + (outMajor ? (long) o * in + j : (long) j * out + o))];
      }
      if (bias >= 0) {
        d[o * c + in] = v[(int) (offsets[bias] + o)];
      }
    }
  }

  /** D (row-major out × c, float32) from the P weights {@code v}: the layer's W and bias. */
  float[] gather(float[] v, long[] offsets) {
    int c = columns();
    float[] d = new float[(int) entries()];
    for (int o = 0; o < out; o++) {
      for (int j = 0; j < in; j++) {
        d[o * c + j] = v[index(offsets, o, j)];
      }
      if (bias >= 0) {
        d[o * c + in] = v[(int) (offsets[bias] + o)];
      }
    }
    return d;
  }

  /** Writes float32 D (row-major out × c) into the P-vector {@code v} at this layer's entries. */
  void scatter(float[] d, long[] offsets, double[] v) {
    int c = columns();
    for (int o = 0; o < out; o++) {
      for (int j = 0; j < in; j++) {
        v[index(offsets, o, j)] = d[o * c + j];
      }
      if (bias >= 0) {
        v[(int) (offsets[bias] + o)] = d[o * c + in];
      }
    }
  }

  /** The flattened entry of the weight's D[o][j] (j &lt; in) among the P. */
  private int index(long[] offsets, int o, int j) {
    return (int) (offsets[weight] + (outMajor ? (long) o * in + j : (long) j * out + o));
  }

  /** Writes D (row-major out × c) into the P-vector {@code v} at this layer's entries. */
  void scatter(double[] d, long[] offsets, double[] v) {
    int c = columns();
    long w = offsets[weight];
    for (int o = 0; o < out; o++) {
      for (int j = 0; j < in; j++) {
        v[(int) (w + (outMajor ? (long) o * in + j : (long) j * out + o))] = d[o * c + j];
      }
      if (bias >= 0) {
        v[(int) (offsets[bias] + o)] = d[o * c + in];
      }
    }
  }

  /** The first flattened entry of each parameter (and P last) for shapes in spec order. */
  static long[] offsets(List<long[]> shapes) {
    long[] off = new long[shapes.size() + 1];
    for (int i = 0; i < shapes.size(); i++) {
      long n = 1;
      for (long d : shapes.get(i)) {
        n *= d;
      }
      off[i + 1] = off[i] + n;
    }
    return off;
  }
}
