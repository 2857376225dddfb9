package dev.lethe.data;

import java.util.Arrays;

/**
 * How {@link Dataset} rows become a {@link dev.lethe.core.Samples}: the graph input's name,
 * the per-sample shape of that input (empty = flat [D]), a scale applied to every feature (e.g.
 * 1/255 for raw pixels) and how labels are encoded. Immutable; the {@code with*} methods return
 * copies.
 *
 * @param inputName graph input name, non-empty
 * @param sampleShape per-sample dims whose product must equal the dataset's feature count; empty
 *     means [D]
 * @param scale multiplies every feature value (1 = raw)
 * @param labels label encoding
 * @param classes number of classes for {@link Labels#ONE_HOT}; 0 = the dataset's class count
 */
public record BatchFormat(
    String inputName, long[] sampleShape, float scale, Labels labels, int classes) {

  /** Label encodings. */
  public enum Labels {
    /** int64 [N] class indices (what {@link dev.lethe.core.LossFunction#SOFTMAX_CROSS_ENTROPY} takes). */
    CLASS_INDICES,
    /** float [N, C] one-hot rows. */
    ONE_HOT,
    /** No labels (the batch's labels are null). */
    NONE
  }

  public BatchFormat {
    if (inputName == null || inputName.isEmpty()) {
      throw new IllegalArgumentException("inputName must be non-empty");
    }
    sampleShape = sampleShape == null ? new long[0] : sampleShape.clone();
    for (long d : sampleShape) {
      if (d <= 0) {
        throw new IllegalArgumentException("sampleShape dims must be positive: "
            + Arrays.toString(sampleShape));
      }
    }
    if (!(scale > 0) || Float.isInfinite(scale)) {
      throw new IllegalArgumentException("scale must be positive and finite: " + scale);
    }
    if (labels == null) {
      throw new IllegalArgumentException("labels must not be null");
    }
    if (classes < 0) {
      throw new IllegalArgumentException("classes must be >= 0: " + classes);
    }
  }

  /** Flat [D] features under {@code inputName}, unscaled, class-index labels. */
  public static BatchFormat of(String inputName) {
    return new BatchFormat(inputName, new long[0], 1f, Labels.CLASS_INDICES, 0);
  }

  public BatchFormat withShape(long... dims) {
    return new BatchFormat(inputName, dims, scale, labels, classes);
  }

  public BatchFormat withScale(float factor) {
    return new BatchFormat(inputName, sampleShape, factor, labels, classes);
  }

  public BatchFormat withClassIndices() {
    return new BatchFormat(inputName, sampleShape, scale, Labels.CLASS_INDICES, 0);
  }

  /** One-hot float labels over {@code numClasses} classes (0 = the dataset's class count). */
  public BatchFormat withOneHot(int numClasses) {
    return new BatchFormat(inputName, sampleShape, scale, Labels.ONE_HOT, numClasses);
  }

  public BatchFormat withoutLabels() {
    return new BatchFormat(inputName, sampleShape, scale, Labels.NONE, 0);
  }

  /** A defensive copy: records expose their array components otherwise. */
  @Override
  public long[] sampleShape() {
    return sampleShape.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof BatchFormat f
        && inputName.equals(f.inputName)
        && Arrays.equals(sampleShape, f.sampleShape)
        && Float.compare(scale, f.scale) == 0
        && labels == f.labels
        && classes == f.classes;
  }

  @Override
  public int hashCode() {
    return ((inputName.hashCode() * 31 + Arrays.hashCode(sampleShape)) * 31
            + Float.hashCode(scale)) * 31 + labels.hashCode() * 7 + classes;
  }

  @Override
  public String toString() {
    return "BatchFormat[" + inputName + " " + Arrays.toString(sampleShape) + " x" + scale + " "
        + labels + (classes > 0 ? "/" + classes : "") + "]";
  }
}
