package dev.lethe.experiment;

import java.util.BitSet;
import java.util.function.Consumer;

/**
 * The SISA baseline (Bourtoule et al., "Machine Unlearning", 2021) without slices: the training
 * rows are split into S disjoint shards by a seeded permutation, one model of the same family is
 * trained from scratch per shard, and the ensemble predicts the mean of the shard models'
 * probabilities. Erasing rows retrains exactly the shards that held them. Not thread-safe.
 */
final class Sisa {
  /**
   * @param testAccuracy the ensemble's test accuracy
   * @param trainSeconds training all shards, sequentially
   * @param shardSeconds each shard's training time
   * @param oneShardRetrainSeconds measured: retraining the shard of one erased sample without it
   */
  record Result(int shards, double testAccuracy, double trainSeconds, double[] shardSeconds,
      double oneShardRetrainSeconds, int[][] parts) implements java.io.Serializable {

    /** Shards holding at least one of the rows. */
    int affected(int[] rows) {
      return holding(parts, rows).length;
    }

    /**
     * Seconds SISA needs to erase the rows: the summed measured training times of the shards
     * holding them (a retrain of a shard without a few rows costs what training it did).
     */
    double eraseSeconds(int[] rows) {
      return java.util.Arrays.stream(holding(parts, rows)).mapToDouble(s -> shardSeconds[s]).sum();
    }
  }

  /** Indices of the shards holding at least one of the rows. */
  static int[] holding(int[][] parts, int[] rows) {
    BitSet set = new BitSet();
    for (int r : rows) {
      set.set(r);
    }
    return java.util.stream.IntStream.range(0, parts.length)
        .filter(s -> java.util.Arrays.stream(parts[s]).anyMatch(set::get)).toArray();
  }

  private Sisa() {}

  /**
   * Trains S shard models, measures the ensemble on the test set, then erases {@code oneRow}
   * (a training row) by retraining its shard, timed.
   */
  static Result run(ModelFamily family, int shards, long seed, int oneRow, Consumer<String> log) {
    int[][] parts = Rows.shards(family.trainSize(), shards, seed);
    int[] test = Rows.range(family.testSize());
    double[] sum = new double[test.length * family.outputs()];
    double[] seconds = new double[shards];
    for (int s = 0; s < shards; s++) {
      long t0 = System.nanoTime();
      double[] theta = family.train(parts[s]);
      seconds[s] = (System.nanoTime() - t0) / 1e9;
      double[] p = family.probabilities(theta, true, test);
      for (int i = 0; i < sum.length; i++) {
        sum[i] += p[i] / shards;
      }
    }
    double accuracy = family.accuracy(sum, true, test);
    int holder = holding(parts, new int[] {oneRow})[0];
    long t0 = System.nanoTime();
    family.train(Rows.without(parts[holder], new int[] {oneRow}));
    double one = (System.nanoTime() - t0) / 1e9;
    double total = 0;
    for (double x : seconds) {
      total += x;
    }
    log.accept(String.format("%s SISA S=%d: test accuracy %.4f, shards trained in %.1f s,"
        + " one-sample erase (one shard retrained) %.2f s", family.key(), shards, accuracy, total,
        one));
    return new Result(shards, accuracy, total, seconds, one, parts);
  }
}
