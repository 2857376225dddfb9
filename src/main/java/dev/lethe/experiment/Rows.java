package dev.lethe.experiment;

import java.util.Arrays;
import java.util.BitSet;
import java.util.Random;
import java.util.stream.IntStream;

/** Row-index helpers for the experiments (sets of training rows as sorted int arrays). */
final class Rows {
  private Rows() {}

  static int[] range(int n) {
    return IntStream.range(0, n).toArray();
  }

  /** A permutation of [0, n) (Fisher–Yates, from {@code random}). */
  static int[] shuffled(int n, Random random) {
    int[] a = range(n);
    for (int i = n - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** {@code count} rows drawn without replacement from {@code from}, sorted. */
  static int[] sample(int[] from, int count, Random random) {
    int[] order = shuffled(from.length, random);
    int[] out = new int[Math.min(count, from.length)];
    for (int i = 0; i < out.length; i++) {
      out[i] = from[order[i]];
    }
    Arrays.sort(out);
    return out;
  }

  /** The rows of {@code all} not in {@code removed}. */
  static int[] without(int[] all, int[] removed) {
    BitSet drop = new BitSet();
    for (int r : removed) {
      drop.set(r);
    }
    return Arrays.stream(all).filter(r -> !drop.get(r)).toArray();
  }

  /** Rows of [0, n) split into {@code shards} shards by a seeded permutation. */
  static int[][] shards(int n, int shards, long seed) {
    int[] order = shuffled(n, new Random(seed));
    int[][] out = new int[shards][];
    for (int s = 0; s < shards; s++) {
      int from = (int) ((long) n * s / shards);
      int to = (int) ((long) n * (s + 1) / shards);
      out[s] = Arrays.copyOfRange(order, from, to);
      Arrays.sort(out[s]);
    }
    return out;
  }
}
