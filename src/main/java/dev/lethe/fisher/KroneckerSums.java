package dev.lethe.fisher;

import dev.lethe.core.LetheException;
import java.util.List;

/**
 * The Kronecker parts of a PutFisherSums stream for a KFAC or EKFAC Fisher (what {@link
 * FisherSums} holds beside the other parameters' blocks): per dense layer of the plan, the
 * factor sums Σ ā āᵀ and (1/T) Σ δ δᵀ (packed upper triangles, as {@link KroneckerFactors#addFactors}
 * sums them), and for EKFAC the eigenbasis the second pass was made in (Q_A c × c, Q_G out ×
 * out, row-major, eigenvectors in the columns) and the sums of the squared projected gradients
 * (out × c). Each part is checked as it arrives (layer, part, offset, finite values); {@link
 * #finish} checks that every part came, that a sent basis is orthonormal and diagonalises the
 * sent factor within {@link #BASIS_TOLERANCE}, then stores the layers through {@link
 * KroneckerBuild}'s own storing code, so the Fisher is the one a build makes of the same sums.
 *
 * <p>Heap: every layer's parts at once (as a build holds its factors). Not thread-safe.
 */
public final class KroneckerSums {
  /** Orthonormality and off-diagonal tolerance for a sent basis (relative to the factor's largest entry). */
  static final double BASIS_TOLERANCE = 1e-8;

  /** A layer's part (the API's KroneckerSumPart). */
  public enum Part {
    INPUT_FACTOR_SUM, OUTPUT_FACTOR_SUM, INPUT_BASIS, OUTPUT_BASIS, SECOND_MOMENT_SUM
  }

  private final List<KroneckerLayer> layers;
  private final boolean ekfac;
  private final double[][][] parts;
  private final long[][] filled;

  KroneckerSums(Kronecker k) {
    this.layers = k.layers();
    this.ekfac = k.structure() == FisherStructure.EKFAC;
    this.parts = new double[layers.size()][Part.values().length][];
    this.filled = new long[layers.size()][Part.values().length];
  }

  /**
   * The plan BuildFisher would make for the header's structure (its layers, and the blocks of
   * the other parameters, split by {@code blockSize}).
   *
   * @throws LetheException as {@link BuildPlan#resolve}; INVALID_ARGUMENT naming
   *     header.kronecker_layers when the header's layer count is not the model's
   */
  static BuildPlan plan(FisherTarget target, FisherSums.Header h, int blockSize,
      FisherStructure structure) {
    BuildPlan plan = BuildPlan.resolve(target, new FisherRequest(h.model(), h.kind(),
        InversionMethod.GRAM, blockSize, 1, h.draws(), h.seed(), h.version(), h.samples(),
        structure, 0), Long.MAX_VALUE, 1);
    if (h.layers() != plan.kronecker().layers().size()) {
      throw LetheException.invalid("header.kronecker_layers", h.layers() + " layers announced;"
          + " the model has " + plan.kronecker().layers().size() + " dense layers to factor");
    }
    return plan;
  }

  /** Progress units, as a build counts them: one per layer (two for EKFAC: factors, second moments). */
  int units() {
    return layers.size() * (ekfac ? 2 : 1);
  }

  private long length(int l, Part p) {
    long c = layers.get(l).columns();
    long o = layers.get(l).out();
    return switch (p) {
      case INPUT_FACTOR_SUM -> c * (c + 1) / 2;
      case OUTPUT_FACTOR_SUM -> o * (o + 1) / 2;
      case INPUT_BASIS -> c * c;
      case OUTPUT_BASIS -> o * o;
      case SECOND_MOMENT_SUM -> o * c;
    };
  }

  /**
   * Takes a chunk of layer {@code layer}'s part {@code part} from {@code offset}.
   *
   * @throws LetheException INVALID_ARGUMENT naming kronecker_sum.layer, .part, .offset or .values
   */
  void accept(int layer, Part part, long offset, double[] values) {
    if (layer < 0 || layer >= layers.size()) {
      throw LetheException.invalid("kronecker_sum.layer", "must be in [0, " + layers.size()
          + "), got " + layer);
    }
    if (part == null) {
      throw LetheException.invalid("kronecker_sum.part", "required: a known part");
    }
    if (!ekfac && part.ordinal() > Part.OUTPUT_FACTOR_SUM.ordinal()) {
      throw LetheException.invalid("kronecker_sum.part", part + " is sent for EKFAC only; a KFAC"
          + " Fisher takes the factor sums");
    }
    long length = length(layer, part);
    int p = part.ordinal();
    if (offset != filled[layer][p]) {
      throw LetheException.invalid("kronecker_sum.offset", "layer " + layer + " " + part
          + (filled[layer][p] == length ? " was already sent" : " continues at " + filled[layer][p])
          + ", got " + offset);
    }
    if (values.length == 0 || offset + values.length > length) {
      throw LetheException.invalid("kronecker_sum.values", "layer " + layer + " " + part + " has "
          + length + " values (" + shape(layer, part) + "); this chunk brings " + offset + " + "
          + values.length);
    }
    for (int i = 0; i < values.length; i++) {
      if (!Double.isFinite(values[i])) {
        throw LetheException.invalid("kronecker_sum.values", "layer " + layer + " " + part
            + " value " + (offset + i) + " is not finite (" + values[i] + ")");
      }
    }
    if (parts[layer][p] == null) {
      parts[layer][p] = new double[(int) length];
    }
    System.arraycopy(values, 0, parts[layer][p], (int) offset, values.length);
    filled[layer][p] += values.length;
  }

  private String shape(int l, Part p) {
    int c = layers.get(l).columns();
    int o = layers.get(l).out();
    return switch (p) {
      case INPUT_FACTOR_SUM -> "packed upper " + c + " x " + c;
      case OUTPUT_FACTOR_SUM -> "packed upper " + o + " x " + o;
      case INPUT_BASIS -> c + " x " + c;
      case OUTPUT_BASIS -> o + " x " + o;
      case SECOND_MOMENT_SUM -> o + " x " + c;
    };
  }

  /**
   * Checks every layer's parts and stores them to {@code writer}, as a build of n samples of
   * {@code rowsTotal} rows stores them.
   *
   * @throws LetheException INVALID_ARGUMENT naming kronecker_sum (a part missing or incomplete),
   *     kronecker_sum.values (a factor sum whose diagonal is negative, a negative second moment)
   *     or kronecker_sum.part (a basis that is not orthonormal or does not diagonalise its factor)
   */
  void finish(FisherStore.Writer writer, long samples, double rowsTotal) {
    double[][] a = new double[layers.size()][];
    double[][] g = new double[layers.size()][];
    for (int l = 0; l < layers.size(); l++) {
      for (Part p : Part.values()) {
        if (!ekfac && p.ordinal() > Part.OUTPUT_FACTOR_SUM.ordinal()) {
          continue;
        }
        if (filled[l][p.ordinal()] != length(l, p)) {
          throw LetheException.invalid("kronecker_sum", "layer " + l + " (" + layers.get(l).weight()
              + ") " + p + ": " + filled[l][p.ordinal()] + " of its " + length(l, p)
              + " values were sent (every layer's " + (ekfac ? "factor sums, bases and second"
              + " moments" : "factor sums") + " exactly once)");
        }
      }
      int c = layers.get(l).columns();
      int o = layers.get(l).out();
      a[l] = unpack(parts[l][Part.INPUT_FACTOR_SUM.ordinal()], c, l, Part.INPUT_FACTOR_SUM);
      g[l] = unpack(parts[l][Part.OUTPUT_FACTOR_SUM.ordinal()], o, l, Part.OUTPUT_FACTOR_SUM);
      KroneckerBuild.mirrorScale(a[l], c, 1.0 / samples);
      KroneckerBuild.mirrorScale(g[l], o, 1.0 / rowsTotal);
      if (ekfac) {
        for (double v : parts[l][Part.SECOND_MOMENT_SUM.ordinal()]) {
          if (v < 0) {
            throw LetheException.invalid("kronecker_sum.values", "layer " + l
                + " SECOND_MOMENT_SUM has a negative sum of squares (" + v + ")");
          }
        }
      }
    }
    double[][][] lambdas = new double[layers.size()][][];
    if (ekfac) {
      for (int l = 0; l < layers.size(); l++) {
        int c = layers.get(l).columns();
        int o = layers.get(l).out();
        lambdas[l] = new double[][] {
            diagonalised(parts[l][Part.INPUT_BASIS.ordinal()], a[l], c, l, Part.INPUT_BASIS),
            diagonalised(parts[l][Part.OUTPUT_BASIS.ordinal()], g[l], o, l, Part.OUTPUT_BASIS)};
      }
    }
    for (int l = 0; l < layers.size(); l++) {
      int c = layers.get(l).columns();
      int o = layers.get(l).out();
      if (!ekfac) {
        KroneckerBuild.storeFactors(writer, l, a[l], c, g[l], o, false);
      } else {
        KroneckerBuild.storeBasis(writer, l, parts[l][Part.INPUT_BASIS.ordinal()],
            parts[l][Part.OUTPUT_BASIS.ordinal()], lambdas[l][0], lambdas[l][1]);
        KroneckerBuild.storeSecondMoments(writer, l, parts[l][Part.SECOND_MOMENT_SUM.ordinal()],
            rowsTotal);
      }
      parts[l] = new double[Part.values().length][];
    }
  }

  private static double[] unpack(double[] packed, int b, int l, Part p) {
    double[] m = new double[b * b];
    for (int i = 0, o = 0; i < b; o += b - i, i++) {
      if (!(packed[o] >= 0)) {
        throw LetheException.invalid("kronecker_sum.values", "layer " + l + " " + p + " has a"
            + " negative sum of squares on its diagonal (entry " + i + "): not a sum of outer products");
      }
      System.arraycopy(packed, o, m, i * b + i, b - i);
    }
    return m;
  }

  /**
   * Checks that Q (b × b) is orthonormal and that Qᵀ F Q is diagonal, within the tolerance;
   * returns that diagonal (the eigenvalues in Q's order, clamped at 0 as a build clamps them).
   */
  private static double[] diagonalised(double[] q, double[] f, int b, int l, Part p) {
    double[] qtq = new double[b * b];
    Linalg.multiply(true, false, b, b, b, q, q, qtq);
    for (int i = 0; i < b; i++) {
      for (int j = 0; j < b; j++) {
        double d = Math.abs(qtq[i * b + j] - (i == j ? 1 : 0));
        if (!(d <= BASIS_TOLERANCE)) {
          throw LetheException.invalid("kronecker_sum.part", "layer " + l + " " + p + " is not"
              + " orthonormal: (QᵀQ)[" + i + "][" + j + "] is off the identity by " + d
              + " (tolerance " + BASIS_TOLERANCE + ")");
        }
      }
    }
    double scale = Double.MIN_NORMAL;
    for (double v : f) {
      scale = Math.max(scale, Math.abs(v));
    }
    double[] fq = new double[b * b];
    Linalg.multiply(false, false, b, b, b, f, q, fq);
    double[] m = new double[b * b];
    Linalg.multiply(true, false, b, b, b, q, fq, m);
    double[] w = new double[b];
    for (int i = 0; i < b; i++) {
      for (int j = 0; j < b; j++) {
        double v = m[i * b + j];
        if (i == j) {
          w[i] = v;
        } else if (!(Math.abs(v) <= BASIS_TOLERANCE * scale)) {
          throw LetheException.invalid("kronecker_sum.part", "layer " + l + " " + p + " does not"
              + " diagonalise the factor sent: (Qᵀ F Q)[" + i + "][" + j + "] = " + v + " (tolerance "
              + BASIS_TOLERANCE + " x " + scale + ")");
        }
      }
    }
    KroneckerBuild.clampNonNegative(w);
    return w;
  }
}
