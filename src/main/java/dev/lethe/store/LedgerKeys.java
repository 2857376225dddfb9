package dev.lethe.store;

import dev.lethe.core.Sha256;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The server secret the erasure ledger keys sample ids by: the ledger stores
 * HMAC-SHA256(secret, id), never the id, so whoever reads the ledger (ListErasures, a copy of
 * the data dir without the secret) cannot confirm a guessed id, while the server can still
 * answer "is this id erased?" for a data subject who presents it (CheckErasure).
 *
 * <p>A secret file holds one secret per line (blank lines and # comments skipped, each at least
 * {@link #MIN_SECRET_CHARS} characters): the first is current and keys new entries; the others are
 * earlier secrets, still used to find entries written under them (rotation: put a new secret
 * first, keep the old ones below it). Stores with entries from before keyed ids also find their
 * plain SHA-256 keys ({@link #withLegacy}).
 *
 * <p>Immutable; thread-safe.
 */
public final class LedgerKeys {
  /** The file a store creates in its data directory when no secret is given. */
  public static final String FILE_NAME = "ledger-secret";
  public static final int MIN_SECRET_CHARS = 32;

  private final List<byte[]> secrets;
  private final boolean legacy;

  private LedgerKeys(List<byte[]> secrets, boolean legacy) {
    this.secrets = List.copyOf(secrets);
    this.legacy = legacy;
  }

  /**
   * Reads {@code file}.
   *
   * @throws IllegalArgumentException naming the file and line for a short secret or no secret
   */
  public static LedgerKeys load(Path file) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("reading the ledger secret " + file, e);
    }
    List<byte[]> secrets = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      if (line.length() < MIN_SECRET_CHARS) {
        throw new IllegalArgumentException(file + ":" + (i + 1) + ": a ledger secret needs at "
            + "least " + MIN_SECRET_CHARS + " characters (e.g. openssl rand -hex 32)");
      }
      secrets.add(line.getBytes(StandardCharsets.UTF_8));
    }
    if (secrets.isEmpty()) {
      throw new IllegalArgumentException(file + ": no ledger secret in the file");
    }
    return new LedgerKeys(secrets, false);
  }

  /**
   * The secret in {@code dataDir}/{@value #FILE_NAME}, created on first use (32 random bytes as
   * hex, owner-only permissions, written to a temporary name, synced and renamed into place).
   */
  public static LedgerKeys inDataDir(Path dataDir) {
    Path file = dataDir.resolve(FILE_NAME);
    if (!Files.exists(file)) {
      create(file);
    }
    return load(file);
  }

  private static void create(Path file) {
    byte[] raw = new byte[32];
    new SecureRandom().nextBytes(raw);
    String text = "# Lethe ledger secret: erased ids are stored as HMAC-SHA256 under it. Keep it\n"
        + "# with the data and back it up with it; without it CheckErasure cannot find old entries.\n"
        + HexFormat.of().formatHex(raw) + "\n";
    Path tmp = file.resolveSibling(FILE_NAME + ".tmp");
    try {
      Files.deleteIfExists(tmp);
      Files.createFile(tmp, PosixFilePermissions.asFileAttribute(
          PosixFilePermissions.fromString("rw-------")));
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        ch.write(java.nio.ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
        ch.force(true);
      }
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
      } catch (FileAlreadyExistsException raced) {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("creating the ledger secret " + file, e);
    }
  }

  /** These keys, also finding entries keyed by plain SHA-256 (stores from before keyed ids). */
  LedgerKeys withLegacy() {
    return new LedgerKeys(secrets, true);
  }

  boolean legacy() {
    return legacy;
  }

  /** Hex HMAC-SHA256 of {@code id} under the current secret: the key of new entries. */
  public String key(String id) {
    return hmac(secrets.get(0), id);
  }

  /** Every key an entry for {@code id} may be stored under: current first. */
  List<String> candidates(String id) {
    List<String> out = new ArrayList<>(secrets.size() + 1);
    for (byte[] s : secrets) {
      out.add(hmac(s, id));
    }
    if (legacy) {
      out.add(Sha256.hex(id));
    }
    return out;
  }

  private static String hmac(byte[] secret, String id) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      return HexFormat.of().formatHex(mac.doFinal(id.getBytes(StandardCharsets.UTF_8)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }
}
