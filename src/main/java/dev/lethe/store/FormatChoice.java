package dev.lethe.store;

import dev.lethe.core.LetheException;
import dev.lethe.core.ModelFormat;

/**
 * Which format an upload is: the spec's, checked against the file, or for an unspecified format
 * ONNX unless the file is a zip archive (TorchScript's container; an ONNX ModelProto never starts
 * with a zip header), and how it was chosen ({@code ModelInfo.format_source}). A file that is
 * not of the declared format is refused INVALID_ARGUMENT naming {@code spec.format}; whether a
 * zip is TorchScript at all (not a {@code torch.save} state dict) the archive's own reading says
 * ({@link TorchFiles}, naming {@code chunk}).
 *
 * @param source "" when the spec named the format, else "detected: ..." or "default: ..."
 */
record FormatChoice(ModelFormat format, String source) {
  static final String DETECTED = "detected: a TorchScript zip archive";
  static final String DEFAULT = "default: not a TorchScript archive";

  /** The upload's format. */
  static FormatChoice of(ModelFormat declared, byte[] file) {
    boolean zip = isZip(file);
    if (declared == null) {
      return zip ? new FormatChoice(ModelFormat.TORCHSCRIPT, DETECTED)
          : new FormatChoice(ModelFormat.ONNX, DEFAULT);
    }
    if (declared == ModelFormat.TORCHSCRIPT && !zip) {
      throw LetheException.invalid("spec.format", "TORCHSCRIPT declared, but the file is not a "
          + "zip archive (torch.jit.save writes one)" + (file.length > 0 && file[0] == 0x08
              ? "; it looks like an ONNX model: declare ONNX or leave format unspecified" : ""));
    }
    if (declared == ModelFormat.ONNX && zip) {
      throw LetheException.invalid("spec.format", "ONNX declared, but the file is a zip archive "
          + "(TorchScript?): declare TORCHSCRIPT or leave format unspecified");
    }
    return new FormatChoice(declared, "");
  }

  /** A zip's local file header signature, PK\3\4. */
  static boolean isZip(byte[] file) {
    return file.length >= 4 && file[0] == 'P' && file[1] == 'K' && file[2] == 3 && file[3] == 4;
  }
}
