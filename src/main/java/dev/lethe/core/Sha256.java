package dev.lethe.core;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256, the one digest Lethe uses (file hashes, graph identity, request digests). Stateless. */
public final class Sha256 {
  private Sha256() {}

  /** A new digest; SHA-256 is required on every Java platform. Not thread-safe (one per use). */
  public static MessageDigest digest() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required by every Java platform", e);
    }
  }

  /** Lower-case hex of the digest of {@code bytes}. */
  public static String hex(byte[] bytes) {
    return HexFormat.of().formatHex(digest().digest(bytes));
  }

  /** Lower-case hex of a finished digest. */
  public static String hex(MessageDigest md) {
    return HexFormat.of().formatHex(md.digest());
  }

  /** Lower-case hex of the digest of a file, read in 64 KiB parts (never whole on the heap). */
  public static String hex(java.nio.file.Path file) throws java.io.IOException {
    MessageDigest md = digest();
    byte[] buffer = new byte[1 << 16];
    try (java.io.InputStream in = java.nio.file.Files.newInputStream(file)) {
      for (int n; (n = in.read(buffer)) > 0; ) {
        md.update(buffer, 0, n);
      }
    }
    return hex(md);
  }

  /** Lower-case hex of the digest of {@code text}'s UTF-8 bytes. */
  public static String hex(String text) {
    return hex(text.getBytes(StandardCharsets.UTF_8));
  }
}
