package dev.lethe.store;

import dev.lethe.core.LetheException;
import dev.lethe.torch.TorchArchive;
import dev.lethe.torch.TorchTensor;
import java.io.InputStream;
import java.util.List;

/**
 * The store's use of a TorchScript archive ({@link TorchArchive}): its parameters, the erasable
 * list's check, the weights of a list and the file a version's weights make (the archive with
 * those parameters' storages replaced, every other byte as uploaded: equal weights give the
 * upload bit for bit). Stateless.
 */
final class TorchFiles {
  private TorchFiles() {}

  /** Reads an upload; refusals are INVALID_ARGUMENT naming {@code chunk}. */
  static TorchArchive read(byte[] file) {
    return TorchArchive.read(file);
  }

  /**
   * The erasable list: the spec's names, each a float32 parameter (refused naming
   * {@code spec.erasable_parameters}, with the candidates), or by default every parameter that
   * requires grad, module order.
   */
  static List<String> erasable(TorchArchive archive, List<String> named) {
    if (named.isEmpty()) {
      List<String> all = archive.parameters().stream()
          .filter(TorchTensor::requiresGrad).map(TorchTensor::name).toList();
      if (all.isEmpty()) {
        throw LetheException.invalid("spec.erasable_parameters", "the TorchScript module has no "
            + "parameter that requires grad; name the erasable ones");
      }
      archive.replaceable(all, "spec.erasable_parameters");
      return all;
    }
    archive.replaceable(named, "spec.erasable_parameters");
    return List.copyOf(named);
  }

  /** The current values of {@code names} as a version's weights (float32 LE, in order). */
  static byte[] weights(TorchArchive archive, List<String> names) {
    return archive.weights(names);
  }

  /** The file the weights {@code w} of {@code names} make from the stored archive. */
  static InputStream compose(byte[] archive, List<String> names, VersionWeights w) {
    return read(archive).compose(names, w.bytes()).openStream();
  }

  /**
   * The identity of the module without its erasable values: the archive composed with zeros in
   * place of them (so a new version with retrained erasable weights and the same code, frozen
   * parameters and buffers has the same digest).
   */
  static String graphDigest(TorchArchive archive, List<String> names, long erasableEntries) {
    java.security.MessageDigest md = dev.lethe.core.Sha256.digest();
    byte[] zeros = new byte[Math.toIntExact(erasableEntries * Float.BYTES)];
    try (InputStream in = archive.compose(names, java.nio.ByteBuffer.wrap(zeros)).openStream()) {
      byte[] buf = new byte[1 << 16];
      for (int r; (r = in.read(buf)) > 0; ) {
        md.update(buf, 0, r);
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    md.update(String.join("\0", names).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    return java.util.HexFormat.of().formatHex(md.digest());
  }
}
