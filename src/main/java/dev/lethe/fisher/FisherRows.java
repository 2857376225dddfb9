package dev.lethe.fisher;

import dev.lethe.core.Batches;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import java.util.Random;

/**
 * The gradient rows whose outer products make a Fisher, per sample, for each {@link CurvatureKind}.
 * The accumulator divides Σ g gᵀ by the number of rows, so every kind yields rows whose mean
 * outer product per sample is that sample's term:
 *
 * <ul>
 *   <li>EMPIRICAL: one row, ∇l_i(θ) at the true label (with the L2 term μθ).
 *   <li>TRUE: C rows √C·Jᵀs_j for the columns s_j of a square root S of the logits-Hessian of
 *       the loss (SSᵀ = diag(p) − ppᵀ for softmax: s_j = √p_j (p − e_j); diag(σ(1−σ)) for sigmoid
 *       attributes; (2/C)·I for mean squared error), so Σ_j rows rowsᵀ / C = JᵀSSᵀJ, the
 *       Gauss–Newton matrix. No L2 term: λ carries it.
 *   <li>MONTE_CARLO: d rows per sample, the data-loss gradient at labels drawn from the model
 *       (categorical, Bernoulli per attribute, or Gaussian with variance C/2 for mean squared
 *       error), so their mean outer product is an unbiased estimate of TRUE.
 * </ul>
 *
 * MONTE_CARLO draws come from a generator seeded by (build seed, sample id) when the build's
 * samples carry ids — so a leave-out erase, which knows its samples' ids, draws the very labels
 * the build drew for them — and by (build seed, stream position) when they do not (then every
 * pass of a multi-pass build still draws the same, but an erase cannot). A stream gives ids on
 * every batch or on none.
 *
 * <p>Not thread-safe (one build's thread).
 */
final class FisherRows implements RowSource {
  private final ModelView model;
  private final CurvatureKind kind;
  private final int draws;
  private final long seed;
  /** Whether MONTE_CARLO draws are keyed by id: fixed for an erase, set by a build's first batch. */
  private Boolean keyedById;

  /** Rows of a build: MONTE_CARLO keying decided by the stream's first batch. */
  FisherRows(ModelView model, CurvatureKind kind, int draws, long seed) {
    this(model, kind, draws, seed, null);
  }

  /**
   * @param keyedById MONTE_CARLO draws keyed by sample id (true) or stream position (false), or
   *     null to let the first batch decide (a build)
   */
  FisherRows(ModelView model, CurvatureKind kind, int draws, long seed, Boolean keyedById) {
    if (model.parameterCount() > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          "a Fisher row of " + model.parameterCount() + " entries does not fit an array");
    }
    this.model = model;
    this.kind = kind;
    this.draws = draws;
    this.seed = seed;
    this.keyedById = keyedById;
  }

  /** The rows of a stored Fisher's kind for an erase's samples (ids required), as its build made them. */
  static FisherRows recomputing(ModelView model, FisherHeader header) {
    FisherHeader.Rows r = header.rows();
    return new FisherRows(model, header.kind(), r.draws(), r.seed(), true);
  }

  /** What the header records of these rows (after the stream, for a build). */
  FisherHeader.Rows describe() {
    return new FisherHeader.Rows(rowsPerSample(), draws, seed,
        kind == CurvatureKind.MONTE_CARLO && Boolean.TRUE.equals(keyedById));
  }

  @Override
  public int columns() {
    return (int) model.parameterCount();
  }

  @Override
  public Samples check(Samples batch) {
    Samples checked = model.check(batch, kind == CurvatureKind.EMPIRICAL);
    if (kind == CurvatureKind.MONTE_CARLO && checked.size() > 0) {
      boolean hasIds = !checked.ids().isEmpty();
      if (keyedById == null) {
        keyedById = hasIds;
      } else if (keyedById != hasIds) {
        throw dev.lethe.core.LetheException.invalid("samples.ids", "a MONTE_CARLO build seeds each"
            + " sample's draws by its id: give ids on every batch or on none (this batch "
            + (hasIds ? "has ids, earlier ones had none)" : "has none, earlier ones had ids)"));
      }
    }
    return checked;
  }

  @Override
  public boolean rowsAreGradients() {
    return kind == CurvatureKind.EMPIRICAL;
  }

  @Override
  public float[] gradients(Samples batch) {
    return batch.labels() == null ? null : model.gradients(batch);
  }

  @Override
  public FisherHeader.Rows header() {
    return describe();
  }

  @Override
  public int rowsPerSample() {
    return switch (kind) {
      case EMPIRICAL -> 1;
      case TRUE -> model.classes();
      case MONTE_CARLO -> draws;
    };
  }

  @Override
  public float[] rows(Samples batch, long firstSample) {
    if (kind == CurvatureKind.EMPIRICAL) {
      return model.gradients(batch);
    }
    Cotangents rows = cotangents(batch, firstSample);
    return model.cotangentGradients(rows.rows(), rows.cotangent());
  }

  /**
   * The rows' cotangents at the logits for a checked batch: the batch with each sample repeated
   * {@link #rowsPerSample()} times and the cotangents v [N·r, C] whose ⟨v, z⟩ gradients are the
   * rows (no L2 term): for EMPIRICAL dl/dz at the true label; TRUE and MONTE_CARLO as
   * {@link #rows}. What a Kronecker-factored Fisher feeds its layers' factors with.
   */
  Cotangents cotangents(Samples batch, long firstSample) {
    int n = batch.size();
    int r = rowsPerSample();
    float[] z = model.logits(batch);
    int c = model.classes();
    LossFunction loss = model.loss();
    int[] repeat = new int[n * r];
    float[] cotangent = new float[n * r * c];
    for (int i = 0; i < n; i++) {
      Random random = kind != CurvatureKind.MONTE_CARLO ? null
          : new Random(mix(seed, Boolean.TRUE.equals(keyedById)
              ? idKey(batch.ids().get(i)) : firstSample + i));
      for (int j = 0; j < r; j++) {
        repeat[i * r + j] = i;
        if (kind == CurvatureKind.EMPIRICAL) {
          empirical(z, batch, i, cotangent, i * c, c, loss);
        } else {
          fill(z, i, j, cotangent, (i * r + j) * c, c, loss, random);
        }
      }
    }
    return new Cotangents(r == 1 ? batch : Batches.rows(batch, repeat), cotangent);
  }

  /** A batch's rows as cotangents: the samples (repeated per row) and v [rows, C]. */
  record Cotangents(Samples rows, float[] cotangent) {}

  /** dl/dz of sample i at its label, the loss's closed form. */
  private static void empirical(float[] z, Samples batch, int i, float[] out, int offset, int c,
      LossFunction loss) {
    dev.lethe.core.DenseTensor y = batch.labels();
    switch (loss) {
      case SOFTMAX_CROSS_ENTROPY -> {
        double[] p = softmax(z, i * c, c);
        long label = y.longs()[i];
        for (int k = 0; k < c; k++) {
          out[offset + k] = (float) (p[k] - (k == label ? 1 : 0));
        }
      }
      case SIGMOID_BINARY_CROSS_ENTROPY -> {
        for (int k = 0; k < c; k++) {
          double s = 1 / (1 + Math.exp(-z[i * c + k]));
          out[offset + k] = (float) (s - y.floats()[i * c + k]);
        }
      }
      case MEAN_SQUARED_ERROR -> {
        for (int k = 0; k < c; k++) {
          out[offset + k] = (float) (2.0 / c * (z[i * c + k] - y.floats()[i * c + k]));
        }
      }
      default -> throw new IllegalArgumentException("loss " + loss);
    }
  }

  /** A sample id as the 64 bits its draws are keyed by: the first 8 bytes of SHA-256(UTF-8). */
  static long idKey(String id) {
    byte[] h = dev.lethe.core.Sha256.digest().digest(id.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    return java.nio.ByteBuffer.wrap(h).getLong();
  }

  /** A seed per (build seed, sample position or id key): SplitMix64's finaliser over both. */
  static long mix(long seed, long position) {
    long z = seed * 0x9E3779B97F4A7C15L + position;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** Writes the cotangent of row j of sample i at {@code out[offset .. offset + C)}. */
  private void fill(float[] z, int i, int j, float[] out, int offset, int c, LossFunction loss,
      Random random) {
    switch (loss) {
      case SOFTMAX_CROSS_ENTROPY -> {
        double[] p = softmax(z, i * c, c);
        if (kind == CurvatureKind.TRUE) {
          double w = Math.sqrt(c * p[j]);
          for (int k = 0; k < c; k++) {
            out[offset + k] = (float) (w * (p[k] - (k == j ? 1 : 0)));
          }
        } else {
          int y = sample(p, random);
          for (int k = 0; k < c; k++) {
            out[offset + k] = (float) (p[k] - (k == y ? 1 : 0));
          }
        }
      }
      case SIGMOID_BINARY_CROSS_ENTROPY -> {
        for (int k = 0; k < c; k++) {
          double s = 1 / (1 + Math.exp(-z[i * c + k]));
          if (kind == CurvatureKind.TRUE) {
            out[offset + k] = k == j ? (float) Math.sqrt(c * s * (1 - s)) : 0f;
          } else {
            out[offset + k] = (float) (s - (random.nextDouble() < s ? 1 : 0));
          }
        }
      }
      case MEAN_SQUARED_ERROR -> {
        for (int k = 0; k < c; k++) {
          if (kind == CurvatureKind.TRUE) {
            // sqrt(C) * sqrt(2/C) = sqrt(2) on the diagonal
            out[offset + k] = k == j ? (float) Math.sqrt(2.0) : 0f;
          } else {
            // d/dz of (1/C)(z − y)², y ~ N(z, C/2): (2/C)(z − y) with z − y ~ N(0, C/2)
            out[offset + k] = (float) (2.0 / c * random.nextGaussian() * Math.sqrt(c / 2.0));
          }
        }
      }
      default -> throw new IllegalArgumentException("loss " + loss);
    }
  }

  private static int sample(double[] p, Random random) {
    double u = random.nextDouble();
    double acc = 0;
    for (int k = 0; k < p.length; k++) {
      acc += p[k];
      if (u < acc) {
        return k;
      }
    }
    return p.length - 1;
  }

  static double[] softmax(float[] z, int offset, int c) {
    double max = Double.NEGATIVE_INFINITY;
    for (int k = 0; k < c; k++) {
      max = Math.max(max, z[offset + k]);
    }
    double sum = 0;
    double[] p = new double[c];
    for (int k = 0; k < c; k++) {
      p[k] = Math.exp(z[offset + k] - max);
      sum += p[k];
    }
    for (int k = 0; k < c; k++) {
      p[k] /= sum;
    }
    return p;
  }
}
