package dev.lethe.experiment;

/**
 * The retraining noise floor of one removal: θ*₋S retrained from scratch without S with several
 * SGD seeds (the first is the seed of θ* and of the gold standard), and their forget, retained and
 * test accuracy. An erase cannot be asked to land closer to the retrained model than two
 * retrainings land to each other. Immutable.
 *
 * @param seeds the seeds, the first the gold standard's
 * @param accuracy [seed][forget, retain, test] accuracy of each retrained model
 * @param forgetLoss [seed] S's mean data loss under each retrained model
 */
record NoiseFloor(Removal removal, long[] seeds, double[][] accuracy, double[] forgetLoss)
    implements java.io.Serializable {
  /** The smallest and largest of {@link #forgetLoss}. */
  double[] forgetLossRange() {
    return new double[] {java.util.Arrays.stream(forgetLoss).min().orElse(Double.NaN),
        java.util.Arrays.stream(forgetLoss).max().orElse(Double.NaN)};
  }

  /** Largest minus smallest accuracy over the seeds on a split (0 forget, 1 retain, 2 test), points. */
  double spread(int split) {
    double lo = Double.POSITIVE_INFINITY;
    double hi = Double.NEGATIVE_INFINITY;
    for (double[] a : accuracy) {
      lo = Math.min(lo, a[split]);
      hi = Math.max(hi, a[split]);
    }
    return 100 * (hi - lo);
  }
}
