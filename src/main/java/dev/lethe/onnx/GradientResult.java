package dev.lethe.onnx;

/**
 * Per-sample results of one {@link GradientEngine} call over N samples. Arrays are owned by the
 * caller.
 *
 * @param size N
 * @param parameterCount P
 * @param losses [N] per-sample loss (data loss + μ/2 |θ|²); null for cotangent runs
 * @param logits [N, C] row-major flattened logits
 * @param gradients [N, P] row-major, parameters in spec order (each row-major); null for the
 *     norms-only path
 * @param norms [N] L2 norm of each gradient row
 */
public record GradientResult(int size, long parameterCount, float[] losses, float[] logits, float[] gradients,
    float[] norms) {

  /** The gradient of sample {@code n} as an offset into {@link #gradients()}. */
  public long rowOffset(int n) {
    return n * parameterCount;
  }
}
