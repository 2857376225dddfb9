package dev.lethe.store;

import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelFormat;
import dev.lethe.core.Samples;
import dev.lethe.onnx.GradientResult;
import java.io.InputStream;

/**
 * What a model's format provides to the store: forward logits, per-sample gradients and
 * cotangent rows at given weights, and the file a version's weights make. One backend per
 * registered model serves all its versions (the graph never changes, the weights are passed per
 * call); everything above it (versions, Fisher, Erase, ledger, export) is the same for every
 * format. Implemented by {@link OnnxBackend} and {@link TorchBackend}; chosen by
 * {@link ModelBackends} from the model record's format.
 *
 * <p>Shapes: N checked samples, P erasable entries (spec order), C flattened logits per sample;
 * returned arrays belong to the caller. Thread-safe. Owned by the model's {@link ModelRuntime},
 * which closes it; a call after {@link #close()} throws IllegalStateException.
 */
interface ModelBackend extends AutoCloseable {
  ModelFormat format();

  /** Logits [N, C] at {@code w}. */
  float[] logits(Samples checked, VersionWeights w);

  /**
   * Per-sample losses (data + μ/2 |θ|²), logits, norms and, when {@code full}, gradients [N, P]
   * of the spec's loss at {@code w} with L2 coefficient {@code l2}.
   */
  GradientResult gradients(Samples checked, VersionWeights w, LossFunction loss, double l2, boolean full);

  /** Per-sample gradients of ⟨v_n, z_n⟩ (no L2 term) at {@code w} for v [N, C]. */
  GradientResult cotangentGradients(Samples checked, VersionWeights w, LossFunction loss, double l2,
      float[] cotangent);

  /**
   * The dense layers of the gradient graph at {@code l2} (empty when the format has none) and,
   * with {@code cotangent}, their inputs and output cotangents and the other parameters'
   * gradients; null inputs when {@code cotangent} is null.
   */
  default dev.lethe.onnx.GradientGraph gradientGraph(VersionWeights w, LossFunction loss, double l2) {
    return null;
  }

  /** Layer inputs for the cotangents v [N, C] at {@code w} (ONNX only; see {@link #gradientGraph}). */
  default dev.lethe.onnx.LayerFactors layerFactors(Samples checked, VersionWeights w, LossFunction loss,
      double l2, float[] cotangent) {
    throw dev.lethe.core.LetheException.precondition("Kronecker-factored Fishers need an ONNX model");
  }

  /** Builds the gradient machinery for {@code l2} now, at {@code w} (start-up warm-up). */
  void warm(VersionWeights w, LossFunction loss, double l2);

  /** True when the gradient machinery is built. */
  boolean warmed();

  /**
   * Checks what only the built machinery knows about a batch (ONNX: inputs sharing a symbolic
   * dimension, a sequence length, agree); nothing when it is not built yet (it checks on use).
   *
   * @throws dev.lethe.core.LetheException INVALID_ARGUMENT naming {@code samples.inputs[x]}
   */
  default void checkSizes(Samples samples) {}

  /** The model file {@code w} makes (the stored file with w's parameters); the caller closes it. */
  InputStream compose(VersionWeights w);

  @Override
  void close();
}
