package dev.lethe.core;

/**
 * The file format of a registered model: which backend differentiates it and how a version's
 * file is composed from its weights. Fixed at registration for the model's lifetime.
 *
 * <ul>
 *   <li>{@link #ONNX}: an ONNX {@code ModelProto}; gradients by Lethe's emitted backward graph in
 *       ONNX Runtime; versions are the stored skeleton with the version's initializers spliced in.
 *   <li>{@link #TORCHSCRIPT}: a TorchScript zip archive ({@code torch.jit.save}); gradients by
 *       PyTorch autograd through DJL; versions are the archive with the parameters' storages
 *       replaced.
 * </ul>
 */
public enum ModelFormat {
  ONNX,
  TORCHSCRIPT
}
