package dev.lethe.core;

/**
 * Per-sample training loss of a model, computed from its logits tensor.
 *
 * <ul>
 *   <li>{@link #SOFTMAX_CROSS_ENTROPY}: labels are int64 class indices [N]; loss = -log softmax(z)[y].
 *   <li>{@link #SIGMOID_BINARY_CROSS_ENTROPY}: labels are float targets [N, C] in [0, 1]
 *       (independent attributes); loss = sum over attributes of binary cross-entropy.
 *   <li>{@link #MEAN_SQUARED_ERROR}: labels are float targets [N, C]; loss = mean over outputs of
 *       (z - y)^2.
 * </ul>
 */
public enum LossFunction {
  SOFTMAX_CROSS_ENTROPY,
  SIGMOID_BINARY_CROSS_ENTROPY,
  MEAN_SQUARED_ERROR;

  /** True when labels are int64 class indices rather than float targets. */
  public boolean hasClassLabels() {
    return this == SOFTMAX_CROSS_ENTROPY;
  }
}
