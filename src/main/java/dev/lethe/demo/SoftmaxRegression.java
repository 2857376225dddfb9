package dev.lethe.demo;

import org.ejml.data.DMatrixRMaj;

/**
 * The L2-regularised multinomial (softmax) logistic regression objective on a fixed dataset of n
 * samples x_i ∈ R^d with labels y_i ∈ [0, K):
 *
 * <pre>
 *   f(θ) = (1/n) Σ_i −log softmax(W x_i + b)[y_i] + μ/2 (|W|² + |b|²)
 * </pre>
 *
 * <p>θ holds the rows of [W | b] (K rows of d+1): θ[c(d+1) + j] = W[c][j] for j &lt; d and
 * θ[c(d+1) + d] = b[c]. With z_i = (x_i, 1) and p_i = softmax(Θ z_i), the gradient block of class
 * c is (1/n) Σ_i (p_ic − [y_i = c]) z_i + μ θ_c and the Hessian block of classes (c, c') is
 * (1/n) Σ_i p_ic (δ_cc' − p_ic') z_i z_iᵀ + μ δ_cc' I.
 *
 * <p>Everything is computed in double. The Hessian exploits that each block is symmetric and that
 * pixel features are mostly zero: per sample it visits only pairs of non-zero features. The
 * object owns a copy of the data; it is immutable and thread-safe.
 */
public final class SoftmaxRegression implements SmoothObjective {
  private final int n;
  private final int d;
  private final int classes;
  private final double mu;
  private final int[] labels;
  /** Per sample, the indices j of non-zero z_ij (ascending, the bias index d last). */
  private final int[][] nonZero;
  /** Per sample, z_ij at those indices. */
  private final double[][] values;

  /**
   * @param features n·d values, row-major (copied)
   * @param d features per sample
   * @param labels n class indices in [0, classes) (copied)
   * @param mu L2 weight decay, &gt;= 0
   */
  public SoftmaxRegression(double[] features, int d, int[] labels, int classes, double mu) {
    if (d <= 0 || classes < 2 || !(mu >= 0) || labels.length == 0) {
      throw new IllegalArgumentException("need d > 0, classes >= 2, mu >= 0 and samples; got d="
          + d + ", classes=" + classes + ", mu=" + mu + ", n=" + labels.length);
    }
    if ((long) labels.length * d != features.length) {
      throw new IllegalArgumentException(features.length + " feature values for " + labels.length
          + " samples of " + d);
    }
    this.n = labels.length;
    this.d = d;
    this.classes = classes;
    this.mu = mu;
    this.labels = labels.clone();
    this.nonZero = new int[n][];
    this.values = new double[n][];
    int[] idx = new int[d + 1];
    double[] val = new double[d + 1];
    for (int i = 0; i < n; i++) {
      if (labels[i] < 0 || labels[i] >= classes) {
        throw new IllegalArgumentException("label of sample " + i + " not in [0, " + classes
            + "): " + labels[i]);
      }
      int m = 0;
      for (int j = 0; j < d; j++) {
        double x = features[i * d + j];
        if (x != 0) {
          idx[m] = j;
          val[m++] = x;
        }
      }
      idx[m] = d;
      val[m++] = 1;
      nonZero[i] = java.util.Arrays.copyOf(idx, m);
      values[i] = java.util.Arrays.copyOf(val, m);
    }
  }

  @Override
  public int dimension() {
    return classes * (d + 1);
  }

  public int samples() {
    return n;
  }

  @Override
  public double value(double[] theta) {
    checkLength(theta);
    double[] logits = new double[classes];
    double loss = 0;
    for (int i = 0; i < n; i++) {
      logits(theta, i, logits);
      double max = Double.NEGATIVE_INFINITY;
      for (double s : logits) {
        max = Math.max(max, s);
      }
      double sum = 0;
      for (double s : logits) {
        sum += Math.exp(s - max);
      }
      loss += max + Math.log(sum) - logits[labels[i]];
    }
    return loss / n + 0.5 * mu * squaredNorm(theta);
  }

  @Override
  public double[] gradient(double[] theta) {
    checkLength(theta);
    int stride = d + 1;
    double[] g = new double[theta.length];
    double[] p = new double[classes];
    for (int i = 0; i < n; i++) {
      probabilities(theta, i, p);
      p[labels[i]] -= 1;
      int[] idx = nonZero[i];
      double[] z = values[i];
      for (int c = 0; c < classes; c++) {
        double r = p[c];
        int base = c * stride;
        for (int u = 0; u < idx.length; u++) {
          g[base + idx[u]] += r * z[u];
        }
      }
    }
    for (int k = 0; k < g.length; k++) {
      g[k] = g[k] / n + mu * theta[k];
    }
    return g;
  }

  @Override
  public DMatrixRMaj hessian(double[] theta) {
    checkLength(theta);
    int stride = d + 1;
    int pairs = classes * (classes + 1) / 2;
    // acc[(tri(j, k)) * pairs + pair(c, c')] = Σ_i a_i(c, c') z_ij z_ik, for j <= k and c <= c'
    int[] triStart = new int[stride];
    for (int j = 1; j < stride; j++) {
      triStart[j] = triStart[j - 1] + stride - (j - 1);
    }
    double[] acc = new double[stride * (stride + 1) / 2 * pairs];
    double[] p = new double[classes];
    double[] a = new double[pairs];
    for (int i = 0; i < n; i++) {
      probabilities(theta, i, p);
      for (int c = 0, q = 0; c < classes; c++) {
        for (int c2 = c; c2 < classes; c2++) {
          a[q++] = p[c] * ((c == c2 ? 1 : 0) - p[c2]);
        }
      }
      int[] idx = nonZero[i];
      double[] z = values[i];
      for (int u = 0; u < idx.length; u++) {
        int rowBase = triStart[idx[u]] - idx[u];
        for (int v = u; v < idx.length; v++) {
          double zz = z[u] * z[v];
          int base = (rowBase + idx[v]) * pairs;
          for (int q = 0; q < pairs; q++) {
            acc[base + q] += a[q] * zz;
          }
        }
      }
    }
    int dim = dimension();
    DMatrixRMaj h = new DMatrixRMaj(dim, dim);
    for (int c = 0, q = 0; c < classes; c++) {
      for (int c2 = c; c2 < classes; c2++, q++) {
        for (int j = 0; j < stride; j++) {
          for (int k = j; k < stride; k++) {
            double v = acc[(triStart[j] + k - j) * pairs + q] / n;
            // the (c, c') block and its transpose (c', c) are both symmetric in (j, k)
            h.unsafe_set(c * stride + j, c2 * stride + k, v);
            h.unsafe_set(c * stride + k, c2 * stride + j, v);
            h.unsafe_set(c2 * stride + j, c * stride + k, v);
            h.unsafe_set(c2 * stride + k, c * stride + j, v);
          }
        }
      }
    }
    for (int k = 0; k < dim; k++) {
      h.unsafe_set(k, k, h.unsafe_get(k, k) + mu);
    }
    return h;
  }

  /** Fraction of samples whose most probable class is their label. */
  public double accuracy(double[] theta) {
    checkLength(theta);
    double[] logits = new double[classes];
    int correct = 0;
    for (int i = 0; i < n; i++) {
      logits(theta, i, logits);
      int best = 0;
      for (int c = 1; c < classes; c++) {
        if (logits[c] > logits[best]) {
          best = c;
        }
      }
      correct += best == labels[i] ? 1 : 0;
    }
    return (double) correct / n;
  }

  private void logits(double[] theta, int i, double[] out) {
    int stride = d + 1;
    int[] idx = nonZero[i];
    double[] z = values[i];
    for (int c = 0; c < classes; c++) {
      int base = c * stride;
      double s = 0;
      for (int u = 0; u < idx.length; u++) {
        s += theta[base + idx[u]] * z[u];
      }
      out[c] = s;
    }
  }

  private void probabilities(double[] theta, int i, double[] out) {
    logits(theta, i, out);
    double max = Double.NEGATIVE_INFINITY;
    for (double s : out) {
      max = Math.max(max, s);
    }
    double sum = 0;
    for (int c = 0; c < classes; c++) {
      out[c] = Math.exp(out[c] - max);
      sum += out[c];
    }
    for (int c = 0; c < classes; c++) {
      out[c] /= sum;
    }
  }

  private void checkLength(double[] theta) {
    if (theta.length != dimension()) {
      throw new IllegalArgumentException("theta has length " + theta.length + ", expected "
          + dimension() + " = " + classes + " x (" + d + " + 1)");
    }
  }

  private static double squaredNorm(double[] v) {
    double s = 0;
    for (double x : v) {
      s += x * x;
    }
    return s;
  }
}
