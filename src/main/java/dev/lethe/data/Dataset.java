package dev.lethe.data;

import dev.lethe.core.Samples;
import dev.lethe.core.DenseTensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * N labelled samples of D features each, stored row-major in one flat array: unsigned bytes
 * (IDX images, 1 byte a value, so Fashion-MNIST train takes 47 MB) or float32 (CSV). Sample i has
 * id {@code <idPrefix>:<i>} and an int class label in [0, {@link #numClasses()}).
 *
 * <p>Immutable and thread-safe: the arrays are owned by the dataset (factories take ownership of
 * what they are passed, callers must not modify them afterwards) and never exposed. Batches are
 * fresh copies, so a batch is cheap to hand to another thread and costs only its own rows.
 */
public final class Dataset {
  private final String idPrefix;
  private final int size;
  private final int featureCount;
  private final int[] sampleShape;
  private final float[] floats;
  private final byte[] unsignedBytes;
  private final int[] labels;
  private final int numClasses;

  private Dataset(String idPrefix, int[] sampleShape, float[] floats, byte[] unsignedBytes,
      int[] labels) {
    if (idPrefix == null) {
      throw new IllegalArgumentException("idPrefix must not be null");
    }
    long d = 1;
    for (int dim : sampleShape) {
      if (dim <= 0) {
        throw new IllegalArgumentException("sample dims must be positive: "
            + Arrays.toString(sampleShape));
      }
      d *= dim;
    }
    if (sampleShape.length == 0 || d > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("bad sample shape " + Arrays.toString(sampleShape));
    }
    int length = floats != null ? floats.length : unsignedBytes.length;
    if ((long) labels.length * d != length) {
      throw new IllegalArgumentException(labels.length + " labels but " + length
          + " feature values for sample shape " + Arrays.toString(sampleShape));
    }
    int maxLabel = -1;
    for (int i = 0; i < labels.length; i++) {
      if (labels[i] < 0) {
        throw new IllegalArgumentException("label of row " + i + " is negative: " + labels[i]);
      }
      maxLabel = Math.max(maxLabel, labels[i]);
    }
    this.idPrefix = idPrefix;
    this.size = labels.length;
    this.featureCount = (int) d;
    this.sampleShape = sampleShape.clone();
    this.floats = floats;
    this.unsignedBytes = unsignedBytes;
    this.labels = labels;
    this.numClasses = maxLabel + 1;
  }

  /** Float features [N * D] (row-major), taking ownership of both arrays. */
  public static Dataset ofFloats(String idPrefix, float[] features, int[] sampleShape,
      int[] labels) {
    return new Dataset(idPrefix, sampleShape, features, null, labels);
  }

  /** Unsigned-byte features [N * D] (values 0..255), taking ownership of both arrays. */
  public static Dataset ofUnsignedBytes(String idPrefix, byte[] features, int[] sampleShape,
      int[] labels) {
    return new Dataset(idPrefix, sampleShape, null, features, labels);
  }

  /** The same samples with ids {@code <prefix>:<row>}; shares the storage. */
  public Dataset withIdPrefix(String prefix) {
    return new Dataset(prefix, sampleShape, floats, unsignedBytes, labels);
  }

  public int size() {
    return size;
  }

  /** D, the number of features of one sample. */
  public int featureCount() {
    return featureCount;
  }

  /** The stored per-sample shape ([H, W] for IDX images, [D] for CSV). */
  public int[] sampleShape() {
    return sampleShape.clone();
  }

  /** 1 + the largest label (0 for an empty dataset). */
  public int numClasses() {
    return numClasses;
  }

  public String idPrefix() {
    return idPrefix;
  }

  public String id(int row) {
    checkRow(row);
    return idPrefix + ":" + row;
  }

  public int label(int row) {
    checkRow(row);
    return labels[row];
  }

  /** Raw (unscaled) feature {@code col} of sample {@code row}. */
  public float feature(int row, int col) {
    checkRow(row);
    if (col < 0 || col >= featureCount) {
      throw new IndexOutOfBoundsException("col " + col + " not in [0, " + featureCount + ")");
    }
    int at = row * featureCount + col;
    return floats != null ? floats[at] : unsignedBytes[at] & 0xFF;
  }

  /** Copies the raw features of {@code row} times {@code scale} into {@code dst[offset..offset+D)}. */
  public void copyRow(int row, float scale, float[] dst, int offset) {
    checkRow(row);
    int base = row * featureCount;
    if (floats != null) {
      for (int j = 0; j < featureCount; j++) {
        dst[offset + j] = floats[base + j] * scale;
      }
    } else {
      for (int j = 0; j < featureCount; j++) {
        dst[offset + j] = (unsignedBytes[base + j] & 0xFF) * scale;
      }
    }
  }

  /** Counts of each label, indexed by class. */
  public int[] labelHistogram() {
    int[] counts = new int[numClasses];
    for (int y : labels) {
      counts[y]++;
    }
    return counts;
  }

  /**
   * Rows [from, to) as a batch: input {@code format.inputName()} float [to-from, shape...], labels
   * as the format says, ids {@code <idPrefix>:<row>}.
   *
   * @throws IllegalArgumentException if the format's shape does not hold D values, or a label is
   *     not below the format's one-hot class count
   */
  public Samples batch(int from, int to, BatchFormat format) {
    if (from < 0 || to > size || from > to) {
      throw new IndexOutOfBoundsException("rows [" + from + ", " + to + ") not in [0, " + size + ")");
    }
    long[] dims = inputDims(to - from, format);
    int n = to - from;
    float[] x = new float[Math.multiplyExact(n, featureCount)];
    List<String> ids = new ArrayList<>(n);
    for (int r = 0; r < n; r++) {
      copyRow(from + r, format.scale(), x, r * featureCount);
      ids.add(idPrefix + ":" + (from + r));
    }
    return new Samples(ids, Map.of(format.inputName(), DenseTensor.ofFloats(dims, x)),
        labelTensor(from, to, format));
  }

  /** Consecutive batches of {@code batchSize} rows (the last may be smaller), made on demand. */
  public Iterator<Samples> batches(int batchSize, BatchFormat format) {
    if (batchSize <= 0) {
      throw new IllegalArgumentException("batchSize must be positive: " + batchSize);
    }
    inputDims(0, format); // fail now, not on the first next()
    return new Iterator<>() {
      private int next;

      @Override
      public boolean hasNext() {
        return next < size;
      }

      @Override
      public Samples next() {
        if (next >= size) {
          throw new NoSuchElementException();
        }
        int to = Math.min(size, next + batchSize);
        Samples b = batch(next, to, format);
        next = to;
        return b;
      }
    };
  }

  private long[] inputDims(int n, BatchFormat format) {
    long[] shape = format.sampleShape();
    if (shape.length == 0) {
      shape = new long[] {featureCount};
    }
    long product = 1;
    for (long d : shape) {
      product *= d;
    }
    if (product != featureCount) {
      throw new IllegalArgumentException("sample shape " + Arrays.toString(shape) + " holds "
          + product + " values but samples of " + idPrefix + " have " + featureCount);
    }
    long[] dims = new long[shape.length + 1];
    dims[0] = n;
    System.arraycopy(shape, 0, dims, 1, shape.length);
    return dims;
  }

  private DenseTensor labelTensor(int from, int to, BatchFormat format) {
    int n = to - from;
    switch (format.labels()) {
      case NONE:
        return null;
      case CLASS_INDICES: {
        long[] y = new long[n];
        for (int r = 0; r < n; r++) {
          y[r] = labels[from + r];
        }
        return DenseTensor.ofLongs(new long[] {n}, y);
      }
      case ONE_HOT: {
        int classes = format.classes() > 0 ? format.classes() : numClasses;
        float[] y = new float[Math.multiplyExact(n, classes)];
        for (int r = 0; r < n; r++) {
          int c = labels[from + r];
          if (c >= classes) {
            throw new IllegalArgumentException("label " + c + " of " + id(from + r)
                + " does not fit " + classes + " one-hot classes");
          }
          y[r * classes + c] = 1f;
        }
        return DenseTensor.ofFloats(new long[] {n, classes}, y);
      }
      default:
        throw new AssertionError(format.labels());
    }
  }

  private void checkRow(int row) {
    if (row < 0 || row >= size) {
      throw new IndexOutOfBoundsException("row " + row + " not in [0, " + size + ")");
    }
  }

  @Override
  public String toString() {
    return "Dataset[" + idPrefix + ": " + size + " x " + Arrays.toString(sampleShape) + ", "
        + numClasses + " classes]";
  }
}
