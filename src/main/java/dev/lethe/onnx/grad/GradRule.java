package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;

/**
 * The reverse-mode rule of one ONNX op. Gradients are always "per sample": the gradient of a
 * value v is a tensor of shape [N] + v's sample shape (see {@link ValueMeta#sampleShape()}), so a
 * parameter's gradient keeps one slice per sample and nothing is ever summed over the batch.
 */
public interface GradRule {

  /** Whether gradients flow through input {@code index} (shape and axes inputs do not). */
  default boolean differentiable(OnnxMl.NodeProto node, int index) {
    return index == 0;
  }

  /** Whether output {@code index} may carry a gradient (others, e.g. MaxPool indices, may not). */
  default boolean differentiableOutput(int index) {
    return index == 0;
  }

  /**
   * Emits the backward nodes of {@code node}: reads the output gradients from the context and
   * accumulates a gradient for every input that {@link GradContext#needsGrad needs one}.
   * Throws {@link dev.lethe.core.LetheException} (INVALID_ARGUMENT) for an unsupported variant.
   */
  void backward(OnnxMl.NodeProto node, GradContext ctx);
}
