package dev.lethe.fisher;

/**
 * Whether the weights a Fisher was built at look like a minimum of the training loss, which the
 * SSSE step assumes (θ* with ∇L_D(θ*) = 0). A build sees every training sample, so it measures
 * the mean training gradient ∇L_D(θ) = (1/n) Σ ∇l_i(θ) (with the L2 term) beside the typical
 * per-sample gradient, sqrt((1/n) Σ |∇l_i(θ)|²). At a minimum the mean is small against the
 * typical gradient; a model stopped early has a large one, and erasures at ε = 1 overshoot.
 *
 * @param meanGradientNorm |∇L_D(θ)|
 * @param gradientRms sqrt(mean |∇l_i(θ)|²); 0 when not measured
 */
public record Convergence(double meanGradientNorm, double gradientRms) {
  /**
   * Above this ratio of the mean to the typical gradient a model is reported as not at a
   * minimum. At a minimum the ratio is 0 up to the optimiser's noise. Measured by {@code lethe
   * evaluate} (docs/evaluation-heldout.md) on Fashion-MNIST: the convex model solved by
   * liblinear 0.000, the 784-64-10 MLP after 20 epochs of SGD with a decaying rate 0.011, the
   * same MLP stopped after 2 epochs 0.038 (its ε = 1 erase overshoots S's loss 8-fold against
   * retraining); 0.02 separates them with a factor of about two on each side.
   */
  public static final double THRESHOLD = 0.02;

  public static final Convergence UNKNOWN = new Convergence(0, 0);

  /** |∇L_D(θ)| / RMS, 0 when unknown. */
  public double ratio() {
    return gradientRms > 0 ? meanGradientNorm / gradientRms : 0;
  }

  /** The warning a user sees, or "" when the ratio is below {@link #THRESHOLD} (or unknown). */
  public String warning() {
    if (ratio() <= THRESHOLD) {
      return "";
    }
    return String.format("the model is not at a minimum of its training loss: the mean training"
        + " gradient |∇L_D(θ)| = %.3g is %.2f of the typical per-sample gradient (%.3g; threshold"
        + " %.2f); erasures at ε = 1 will overshoot: choose ε with CalibrateScale (lethe"
        + " calibrate NAME --erase-like FILE --holdout FILE)", meanGradientNorm, ratio(),
        gradientRms, THRESHOLD);
  }

  /**
   * Accumulates the mean gradient and the per-sample squared norms over a build's samples.
   * Not thread-safe (the build's thread).
   */
  static final class Moments {
    private final double[] sum;
    private double squares;
    private long samples;

    Moments(int p) {
      this.sum = new double[p];
    }

    /** Adds {@code count} per-sample gradients, rows of [count, P]. */
    void add(float[] gradients, int count) {
      int p = sum.length;
      for (int r = 0; r < count; r++) {
        double sq = 0;
        int base = r * p;
        for (int j = 0; j < p; j++) {
          float g = gradients[base + j];
          sum[j] += g;
          sq += (double) g * g;
        }
        squares += sq;
      }
      samples += count;
    }

    Convergence result() {
      if (samples == 0) {
        return UNKNOWN;
      }
      double mean = 0;
      for (double s : sum) {
        mean += (s / samples) * (s / samples);
      }
      return new Convergence(Math.sqrt(mean), Math.sqrt(squares / samples));
    }
  }
}
