package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;

/**
 * The reverse-mode rule of one ONNX op: given the gradient of the node's output 0, it emits the
 * backward nodes and returns its inputs' gradients. Gradients are always "per sample": the
 * gradient of a value v is a tensor of shape [N] + v's sample shape (see
 * {@link ValueMeta#sampleShape()}), so a parameter's gradient keeps one slice per sample and
 * nothing is ever summed over the batch.
 *
 * <p>A rule neither reads nor stores accumulated gradients; {@link Backward} does. It is called
 * only for a node on the differentiated path whose output 0 has a gradient, so at least one
 * differentiable input needs one. A rule may skip an input that does not
 * ({@link GradContext#needsGrad}) to save work; {@link Backward} drops whatever it returns for
 * such an input anyway.
 */
@FunctionalInterface
public interface GradRule {

  /**
   * Returns the gradients of the node's inputs by input index ([N] + that input's sample shape);
   * an entry that is null or past the end of the array means no gradient.
   *
   * @param g the gradient of output 0, [N] + its sample shape; for the ops whose every output
   *     carries one (Split) it may be null, and the others are {@link GradContext#gradOf}
   * @throws dev.lethe.core.LetheException INVALID_ARGUMENT for a variant Lethe cannot differentiate
   */
  String[] backward(OnnxMl.NodeProto node, String g, GradContext ctx);
}
