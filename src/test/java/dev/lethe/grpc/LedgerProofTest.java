package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.CheckErasureRequest;
import dev.lethe.api.v1.CheckErasureResponse;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.Erasure;
import dev.lethe.api.v1.ErasureStatus;
import dev.lethe.api.v1.SetActiveVersionRequest;
import dev.lethe.core.Samples;
import dev.lethe.core.Sha256;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.LedgerKeys;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #14 finding 3 through the real server: the ledger keys ids by HMAC under a secret the
 * server creates owner-only in its data dir, so a dictionary of ids confirms nothing, while
 * CheckErasure answers a data subject who presents the id; rotation keeps old entries findable.
 */
class LedgerProofTest {
  private static final String MODEL = "mlp";
  private static final int N = 30;
  @TempDir Path dir;
  /** E-mail-style ids, as in finding 3 (a dictionary of them confirmed every erased one). */
  private final Samples train = withEmailIds(Fixtures.batch(7, N));

  private static Samples withEmailIds(Samples s) {
    List<String> ids = new java.util.ArrayList<>();
    for (int i = 0; i < s.size(); i++) {
      ids.add("subject." + i + "@example.org");
    }
    return new Samples(ids, s.inputs(), s.labels());
  }

  private ServerHarness start(Path secretFile) throws Exception {
    ServerConfig c = new ServerConfig("127.0.0.1:0", dir, new StoreConfig(10, 1 << 20), 64 << 20,
        false, 5, dev.lethe.erase.EraseConfig.defaults(), ServerConfig.DEFAULT_FISHER_MEMORY_BYTES,
        dev.lethe.server.Security.none(), null, secretFile);
    return new ServerHarness(c, store -> {});
  }

  private static List<ErasureStatus> check(ServerHarness h, String... ids) {
    return h.blocking.checkErasure(CheckErasureRequest.newBuilder().setName(MODEL)
        .addAllIds(List.of(ids)).build()).getStatusesList();
  }

  @Test
  void aDictionaryConfirmsNothingButCheckErasureProvesEachId() throws Exception {
    long erasedAt;
    try (ServerHarness h = start(null)) {
      EraseRpc.put(h.async, Fixtures.spec(MODEL).withTrainSize(N), Fixtures.mlp(5).onnx());
      EraseRpc.buildFisher(h.async, MODEL, train);
      // the full-Fisher step: this test is about the ledger, and the unconverged fixture's
      // leave-out step exceeds the update guard
      EraseResponse r = h.blocking.erase(EraseRpc.erase(MODEL, "gdpr-7", train, 2, 3).toBuilder()
          .setStep(dev.lethe.api.v1.EraseStep.FULL_FISHER).build());
      erasedAt = r.getVersion();
      Path secret = dir.resolve(LedgerKeys.FILE_NAME);
      assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
          Files.getPosixFilePermissions(secret));
      // The attack of finding 3: hash every candidate id and look for it in the ledger.
      List<Erasure> ledger = EraseRpc.ledger(h.blocking, MODEL);
      assertEquals(2, ledger.size());
      Set<String> listed = new HashSet<>();
      for (Erasure e : ledger) {
        assertEquals(64, e.getIdHmac().length(), e.toString());
        listed.add(e.getIdHmac());
        listed.add(legacySha(e));
      }
      for (String candidate : train.ids()) {
        assertFalse(listed.contains(Sha256.hex(candidate)), "plain SHA-256 of " + candidate + " listed");
      }
      assertEquals(Set.of(EraseRpc.idKey(dir, train.ids().get(2)), EraseRpc.idKey(dir, train.ids().get(3))),
          Set.copyOf(ledger.stream().map(Erasure::getIdHmac).toList()));
      // The data subject's proof, per id, in request order.
      List<ErasureStatus> s = check(h, train.ids().get(3), "never-seen", train.ids().get(2));
      assertEquals(List.of(train.ids().get(3), "never-seen", train.ids().get(2)),
          s.stream().map(ErasureStatus::getId).toList());
      assertTrue(s.get(0).getErased() && s.get(2).getErased());
      assertEquals(erasedAt, s.get(0).getVersion());
      assertEquals("gdpr-7", s.get(0).getRequestId());
      assertTrue(s.get(0).getUnixMs() > 0);
      assertEquals("erase", s.get(0).getLastEvent());
      assertEquals(ErasureStatus.newBuilder().setId("never-seen").build(), s.get(1));
      // Refusals name the field and change nothing.
      for (CheckErasureRequest bad : List.of(
          CheckErasureRequest.newBuilder().setName(MODEL).build(),
          CheckErasureRequest.newBuilder().setName(MODEL).addIds("").build(),
          CheckErasureRequest.newBuilder().setName(MODEL).addIds("x".repeat(1025)).build(),
          CheckErasureRequest.newBuilder().setName(MODEL)
              .addAllIds(java.util.Collections.nCopies(1001, "a")).build())) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> h.blocking.checkErasure(bad));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().startsWith("ids: "), e.getStatus().getDescription());
      }
      StatusRuntimeException missing = assertThrows(StatusRuntimeException.class, () -> h.blocking.checkErasure(
          CheckErasureRequest.newBuilder().setName("nope").addIds("a").build()));
      assertEquals(Status.Code.NOT_FOUND, missing.getStatus().getCode());
      assertEquals(ledger, EraseRpc.ledger(h.blocking, MODEL));
      // A rollback with allow_unerase: the proof says so.
      h.blocking.setActiveVersion(SetActiveVersionRequest.newBuilder().setName(MODEL).setVersion(1)
          .setAllowUnerase(true).build());
      ErasureStatus undone = check(h, train.ids().get(2)).get(0);
      assertFalse(undone.getErased());
      assertEquals("unerase", undone.getLastEvent());
      h.blocking.setActiveVersion(SetActiveVersionRequest.newBuilder().setName(MODEL)
          .setVersion(erasedAt).build());
    }
    // Rotation: a secret file with a new secret first and the data dir's old one below it.
    String old = Files.readAllLines(dir.resolve(LedgerKeys.FILE_NAME)).stream()
        .filter(l -> !l.startsWith("#")).findFirst().orElseThrow();
    Path rotated = dir.resolve("rotated-secret");
    Files.writeString(rotated, "# new first\n" + "b".repeat(64) + "\n" + old + "\n");
    try (ServerHarness h = start(rotated)) {
      ErasureStatus kept = check(h, train.ids().get(2)).get(0);
      assertTrue(kept.getErased(), kept.toString());
      assertEquals(erasedAt, kept.getVersion());
      EraseResponse r = h.blocking.erase(EraseRpc.erase(MODEL, "gdpr-8", train, 2, 4));
      assertEquals(List.of(train.ids().get(2)), r.getAlreadyErasedList());
      assertEquals(1, r.getErased());
      // The replay answers the same, yet the request log holds no id (rows of the request only).
      assertEquals(EraseRpc.withoutTimings(r), EraseRpc.withoutTimings(
          h.blocking.erase(EraseRpc.erase(MODEL, "gdpr-8", train, 2, 4))));
      for (dev.lethe.storage.Family f : List.of(dev.lethe.storage.Family.REQUESTS,
          dev.lethe.storage.Family.LEDGER, dev.lethe.storage.Family.MODELS)) {
        h.server.database().scan(f, new byte[0], (k, v) -> {
          for (int row : new int[] {2, 3, 4}) {
            byte[] id = train.ids().get(row).getBytes(java.nio.charset.StandardCharsets.UTF_8);
            assertFalse(contains(k, id) || contains(v, id), f + " holds id " + train.ids().get(row));
          }
        });
      }
      Set<String> keys = Set.copyOf(EraseRpc.ledger(h.blocking, MODEL).stream().map(Erasure::getIdHmac).toList());
      assertTrue(keys.contains(LedgerKeys.load(rotated).key(train.ids().get(4))), keys.toString());
      assertTrue(check(h, train.ids().get(4)).get(0).getErased());
    }
    // A secret file without a usable secret refuses to start.
    Path empty = dir.resolve("empty-secret");
    Files.writeString(empty, "# nothing\nshort\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> start(empty));
    assertTrue(e.getMessage().contains(empty + ":2:"), e.getMessage());
  }

  private static boolean contains(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }

  @SuppressWarnings("deprecation")
  private static String legacySha(Erasure e) {
    assertEquals("", e.getIdSha256(), "keyed entries carry no plain SHA-256");
    return e.getIdSha256();
  }
}
