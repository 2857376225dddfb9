package dev.lethe.experiment;

import dev.lethe.core.Samples;
import dev.lethe.core.DenseTensor;
import dev.lethe.data.Dataset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The convex experiment's multi-attribute data: each sample is two Fashion-MNIST images side by
 * side (28×56 pixels scaled to [0, 1], row-major: image row r is the left image's row r then the
 * right one's), and its {@value #ATTRIBUTES} binary attributes say which clothing classes appear.
 * With two independent uniform draws an attribute is present with probability 1 − 0.9² = 0.19,
 * and a sample has one or two of them, so attributes vary inside any subset removed for one
 * attribute (as face attributes do in CelebA).
 *
 * <p>Immutable once built; the arrays are owned here and never exposed for writing.
 *
 * @param features [size, {@value #FEATURES}] row-major
 * @param labels [size, {@value #ATTRIBUTES}] row-major, 0 or 1
 */
public record PairedFashion(float[] features, float[] labels, int size, String idPrefix) {
  public static final int FEATURES = 28 * 56;
  public static final int ATTRIBUTES = 10;
  public static final String INPUT = "pixels";

  /**
   * {@code pairs} samples from the images of {@code source}, each image drawn uniformly at random
   * (seeded) among the first {@code pool} rows of the source, without replacement while the pool
   * lasts.
   */
  public static PairedFashion of(Dataset source, int pairs, int pool, long seed, String idPrefix) {
    if (source.featureCount() != 784 || pool > source.size() || pool < 2) {
      throw new IllegalArgumentException("need 28x28 images and 2 <= pool <= " + source.size());
    }
    Random random = new Random(seed);
    int[] order = Rows.shuffled(pool, random);
    float[] x = new float[pairs * FEATURES];
    float[] y = new float[pairs * ATTRIBUTES];
    float[] left = new float[784];
    float[] right = new float[784];
    int next = 0;
    for (int i = 0; i < pairs; i++) {
      if (next + 2 > order.length) {
        order = Rows.shuffled(pool, random);
        next = 0;
      }
      int a = order[next++];
      int b = order[next++];
      source.copyRow(a, 1 / 255f, left, 0);
      source.copyRow(b, 1 / 255f, right, 0);
      for (int r = 0; r < 28; r++) {
        System.arraycopy(left, r * 28, x, i * FEATURES + r * 56, 28);
        System.arraycopy(right, r * 28, x, i * FEATURES + r * 56 + 28, 28);
      }
      y[i * ATTRIBUTES + source.label(a)] = 1;
      y[i * ATTRIBUTES + source.label(b)] = 1;
    }
    return new PairedFashion(x, y, pairs, idPrefix);
  }

  public boolean has(int row, int attribute) {
    return labels[row * ATTRIBUTES + attribute] != 0;
  }

  /** Rows having {@code attribute}, ascending. */
  public int[] rowsWith(int attribute) {
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      if (has(i, attribute)) {
        out.add(i);
      }
    }
    return out.stream().mapToInt(Integer::intValue).toArray();
  }

  public String id(int row) {
    return idPrefix + ":" + row;
  }

  /** The given rows as a batch for a model with input {@value #INPUT} and sigmoid targets. */
  public Samples batch(int[] rows) {
    float[] x = new float[rows.length * FEATURES];
    float[] y = new float[rows.length * ATTRIBUTES];
    List<String> ids = new ArrayList<>(rows.length);
    for (int i = 0; i < rows.length; i++) {
      System.arraycopy(features, rows[i] * FEATURES, x, i * FEATURES, FEATURES);
      System.arraycopy(labels, rows[i] * ATTRIBUTES, y, i * ATTRIBUTES, ATTRIBUTES);
      ids.add(id(rows[i]));
    }
    return new Samples(ids,
        Map.of(INPUT, DenseTensor.ofFloats(new long[] {rows.length, FEATURES}, x)),
        DenseTensor.ofFloats(new long[] {rows.length, ATTRIBUTES}, y));
  }
}
