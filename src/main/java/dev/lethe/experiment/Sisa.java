package dev.lethe.experiment;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
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
      double oneShardRetrainSeconds, int[][] parts) {

    /** Shards holding at least one of the rows. */
    int affected(int[] rows) {
      BitSet set = new BitSet();
      for (int r : rows) {
        set.set(r);
      }
      int count = 0;
      for (int[] part : parts) {
        for (int r : part) {
          if (set.get(r)) {
            count++;
            break;
          }
        }
      }
      return count;
    }

    /**
     * Seconds SISA needs to erase the rows: the summed measured training times of the shards
     * holding them (a retrain of a shard without a few rows costs what training it did).
     */
    double eraseSeconds(int[] rows) {
      BitSet set = new BitSet();
      for (int r : rows) {
        set.set(r);
      }
      double s = 0;
      for (int i = 0; i < parts.length; i++) {
        for (int r : parts[i]) {
          if (set.get(r)) {
            s += shardSeconds[i];
            break;
          }
        }
      }
      return s;
    }
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
    List<double[]> models = new ArrayList<>();
    for (int s = 0; s < shards; s++) {
      long t0 = System.nanoTime();
      double[] theta = family.train(parts[s]);
      seconds[s] = (System.nanoTime() - t0) / 1e9;
      models.add(theta);
      double[] p = family.probabilities(theta, true, test);
      for (int i = 0; i < sum.length; i++) {
        sum[i] += p[i] / shards;
      }
    }
    double accuracy = family.accuracy(sum, true, test);
    int holder = -1;
    for (int s = 0; s < shards && holder < 0; s++) {
      for (int r : parts[s]) {
        if (r == oneRow) {
          holder = s;
        }
      }
    }
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
