package dev.lethe.erase;

import dev.lethe.core.Sha256;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.Map;

/**
 * SHA-256 over everything that determines an erase's outcome: a request id reused with other
 * content is refused instead of answered with the first outcome. Stateless.
 */
final class RequestDigest {
  private RequestDigest() {}

  static String of(EraseCommand c) {
    MessageDigest md = Sha256.digest();
    try (DataOutputStream out = new DataOutputStream(
        new DigestOutputStream(OutputStream.nullOutputStream(), md))) {
      string(out, c.name());
      out.writeLong(c.expectedVersion());
      out.writeBoolean(c.downdateFisher());
      out.writeBoolean(c.dryRun());
      out.writeInt(c.samples().ids().size());
      for (String id : c.samples().ids()) {
        string(out, id);
      }
      for (var e : c.samples().inputs().entrySet().stream().sorted(Map.Entry.comparingByKey()).toList()) {
        string(out, e.getKey());
        e.getValue().writeTo(out);
      }
      out.writeBoolean(c.samples().labels() != null);
      if (c.samples().labels() != null) {
        c.samples().labels().writeTo(out);
      }
      if (c.step() != null) {
        // Only when named, so the digests of requests from before the step field are unchanged.
        string(out, "step=" + c.step().name());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return Sha256.hex(md);
  }

  /** Length-prefixed UTF-8 (ids may be longer than writeUTF's 64 KiB). */
  private static void string(DataOutputStream out, String s) throws IOException {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    out.writeInt(b.length);
    out.write(b);
  }
}
