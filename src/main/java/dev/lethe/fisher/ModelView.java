package dev.lethe.fisher;

import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import java.util.List;

/**
 * One model version as curvature and erasure see it: its loss, the shapes of its erasable
 * parameters, the one sample check, and its per-sample derivatives at the version's weights.
 * Implemented by the store (over the version's gradient engine); nothing here knows the model's
 * format.
 *
 * <p>Shapes: N samples, P flattened erasable parameters (spec order), C = per-sample logits
 * entries. Arrays are row-major and belong to the caller. Thread-safe.
 */
public interface ModelView {
  LossFunction loss();

  /** C, the number of per-sample logits entries. */
  int classes();

  /** The erasable parameters' shapes, spec order. */
  List<long[]> parameterShapes();

  /** P. */
  long parameterCount();

  /**
   * The one check of a request's samples against the model (inputs, element types, shapes,
   * finite values; labels for the loss when {@code needLabels}); every other method takes
   * samples that passed it and does not check them again.
   *
   * @return {@code samples}
   * @throws dev.lethe.core.LetheException INVALID_ARGUMENT naming {@code samples.inputs[x]},
   *     {@code samples.labels} or {@code samples.ids}
   */
  Samples check(Samples samples, boolean needLabels);

  /** Per-sample gradients of the loss at the true labels, with the L2 term μθ: [N, P]. */
  float[] gradients(Samples checked);

  /** Logits [N, C]; labels are not needed. */
  float[] logits(Samples checked);

  /** Per-sample gradients of ⟨v_i, z_i⟩ (z the logits, no L2 term) for v [N, C]: [N, P]. */
  float[] cotangentGradients(Samples checked, float[] cotangent);

  /**
   * Mean data loss (no L2 term) of labelled samples at {@code weights} (P floats, spec order),
   * or at the version's own weights when null.
   */
  double meanLoss(Samples checked, float[] weights);

  /**
   * {@link #meanLoss(Samples, float[])} at weights given as P float32 little-endian in a direct
   * buffer from position 0 (an erase's candidate, {@code Update}); the store's view reads them
   * without a copy, others copy them.
   */
  default double meanLoss(Samples checked, java.nio.ByteBuffer weights) {
    float[] w = new float[weights.limit() / Float.BYTES];
    weights.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(w);
    return meanLoss(checked, w);
  }

  /**
   * Per-sample data losses (no L2 term), their mean and the accuracy of labelled samples at
   * {@code weights} (P floats, spec order), or at the version's own weights when null.
   */
  dev.lethe.eval.Evaluation evaluate(Samples checked, float[] weights);

  /**
   * μθ, the L2 term every sample's {@link #gradients} carries, [P] in spec order (zeros when
   * μ = 0); null when the view cannot say (a Kronecker build then reports no convergence).
   */
  default float[] l2Term() {
    return null;
  }

  /** θ, the version's erasable parameters, [P] in spec order (a copy); null when the view cannot say. */
  default float[] parameters() {
    return null;
  }

  /**
   * The dense layers a Kronecker-factored Fisher can factor (empty when the model's format
   * offers none: then KFAC and EKFAC builds are refused).
   */
  default List<KroneckerLayer> kroneckerLayers() {
    return List.of();
  }

  /** Indices (spec order) of the erasable parameters no {@link #kroneckerLayers()} entry covers. */
  default int[] otherParameters() {
    return java.util.stream.IntStream.range(0, parameterShapes().size()).toArray();
  }

  /**
   * Each layer's inputs and output cotangents, and the other parameters' gradients of
   * ⟨v_i, z_i⟩, for the cotangents v [N, C] (no L2 term).
   *
   * @throws dev.lethe.core.LetheException FAILED_PRECONDITION when the model has no
   *     {@link #kroneckerLayers()}
   */
  default LayerInputs layerInputs(Samples checked, float[] cotangent) {
    throw dev.lethe.core.LetheException.precondition("this model's format does not expose its"
        + " layers' inputs and cotangents: Kronecker-factored Fishers (KFAC, EKFAC) need an ONNX"
        + " model; build a BLOCK_DIAGONAL Fisher");
  }
}
