package dev.lethe.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.core.Sha256;
import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.records.LedgerEvent;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ledger secret, rotation, and stores whose ledger predates keyed ids. */
class LedgerKeysTest {
  @TempDir Path dir;

  @Test
  void keysAreHmacUnderTheCurrentSecretAndLookupsTryEveryOne() throws Exception {
    Path file = dir.resolve("secret");
    String current = "c".repeat(40);
    String old = "o".repeat(40);
    Files.writeString(file, "# rotated\n" + current + "\n\n" + old + "\n");
    LedgerKeys keys = LedgerKeys.load(file);
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(current.getBytes(), "HmacSHA256"));
    String expected = java.util.HexFormat.of().formatHex(mac.doFinal("alice@example.org".getBytes()));
    assertEquals(expected, keys.key("alice@example.org"));
    assertNotEquals(Sha256.hex("alice@example.org"), keys.key("alice@example.org"));
    List<String> candidates = keys.candidates("alice@example.org");
    assertEquals(2, candidates.size());
    assertEquals(expected, candidates.get(0));
    assertEquals(LedgerKeys.load(writeOne(old)).key("alice@example.org"), candidates.get(1));
    assertEquals(3, keys.withLegacy().candidates("alice@example.org").size());
    Files.writeString(file, "short\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LedgerKeys.load(file));
    assertTrue(e.getMessage().contains(file + ":1:"), e.getMessage());
  }

  private Path writeOne(String secret) throws Exception {
    Path f = dir.resolve("one");
    Files.writeString(f, secret + "\n");
    return f;
  }

  @Test
  void theDataDirSecretIsCreatedOnceOwnerOnly() throws Exception {
    LedgerKeys first = LedgerKeys.inDataDir(dir);
    Path file = dir.resolve(LedgerKeys.FILE_NAME);
    assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
        Files.getPosixFilePermissions(file)));
    assertEquals(first.key("x"), LedgerKeys.inDataDir(dir).key("x"), "the same secret on reopen");
  }

  /** An "erase" event as stores before keyed ids wrote it: plain SHA-256 key, keyed unset. */
  private static void legacyEvent(LetheDb db, String model, String id, long version) {
    String sha = Sha256.hex(id);
    byte[] key = Keys.concat(Keys.concat(Keys.of(model, "e", sha), new byte[] {0}),
        ByteBuffer.allocate(8).putLong(0).array());
    byte[] index = Keys.concat(Keys.concat(Keys.of(model, "v"),
        ByteBuffer.allocate(9).put((byte) 0).putLong(version).array()), sha.getBytes());
    db.write(b -> {
      b.put(Family.LEDGER, key, LedgerEvent.newBuilder().setVersion(version).setRequestId("old")
          .setUnixMs(1).setEvent("erase").build().toByteArray());
      b.put(Family.LEDGER, index, new byte[0]);
    });
  }

  @Test
  void aLedgerFromBeforeKeyedIdsStillFindsItsEntries() {
    LedgerKeys keys = LedgerKeys.inDataDir(dir);
    try (LetheDb db = LetheDb.open(dir.resolve("db"))) {
      legacyEvent(db, "m", "old-id", 2);
      EraseLedger ledger = EraseLedger.open(db, keys);
      assertTrue(ledger.isErased("m", "old-id", List.of(2L)));
      ErasureCheck c = ledger.check("m", "old-id", List.of(2L));
      assertTrue(c.erased());
      assertEquals("old", c.requestId());
      LedgerEntry e = ledger.list("m", 10, "").entries().get(0);
      assertFalse(e.keyed());
      assertEquals(Sha256.hex("old-id"), e.idKey());
    }
    // Reopened: the marker says the store has legacy entries.
    try (LetheDb db = LetheDb.open(dir.resolve("db"))) {
      assertTrue(EraseLedger.open(db, keys).isErased("m", "old-id", List.of(2L)));
    }
  }

  @Test
  void aStoreStartedWithKeyedIdsIgnoresPlainHashes() {
    LedgerKeys keys = LedgerKeys.inDataDir(dir);
    try (LetheDb db = LetheDb.open(dir.resolve("db"))) {
      EraseLedger ledger = EraseLedger.open(db, keys);
      legacyEvent(db, "m", "planted", 2);
      assertFalse(ledger.isErased("m", "planted", List.of(2L)),
          "a keyed store must not accept guessable plain-hash entries");
    }
  }
}
