package dev.lethe.store;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.lethe.core.LetheException;
import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.StorageException;
import dev.lethe.storage.records.LedgerEvent;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The erasure ledger: per model, the history of every erased sample id, keyed by the id's
 * HMAC-SHA256 under the server's ledger secret ({@link LedgerKeys}; never the id, the sample or
 * its gradient). Append-only: an erasure adds an "erase"
 * event; activating a version that predates erasures adds "unerase" events (and going forward
 * again adds "erase" events), so the ledger never loses history.
 *
 * <p>Keys (ledger column family): {@code model 0 "e" 0 key 0 seq(8)} for events, and
 * {@code model 0 "v" 0 version(8) key} as an index of the ids an erase version removed (key: 64
 * hex digits). Stores written before keyed ids hold plain SHA-256 keys; the marker
 * {@code 0 "scheme"} (written at the first open with keyed ids) says whether such entries exist,
 * and then lookups also try the plain SHA-256.
 *
 * <p>Whether an id is erased in a version follows from the version's erase lineage (the erase
 * versions among it and its ancestors): it is iff one of the id's "erase" events was made by a
 * version in that lineage. Stateless; thread-safe; callers serialise writes per model.
 */
public final class EraseLedger {
  static final String ERASE = "erase";
  static final String UNERASE = "unerase";
  private static final byte[] SCHEME_KEY = Keys.concat(new byte[] {0},
      "scheme".getBytes(StandardCharsets.UTF_8));
  private static final String KEYED = "hmac-sha256";
  private static final String WITH_LEGACY = "hmac-sha256+legacy-sha256";
  private final LetheDb db;
  private final LedgerKeys keys;

  private EraseLedger(LetheDb db, LedgerKeys keys) {
    this.db = db;
    this.keys = keys;
  }

  /**
   * The ledger of {@code db} under {@code keys}; at the first open with keyed ids, records
   * whether entries with plain SHA-256 keys exist (one scan), so later lookups know to try them.
   */
  static EraseLedger open(LetheDb db, LedgerKeys keys) {
    byte[] scheme = db.get(Family.LEDGER, SCHEME_KEY);
    if (scheme == null) {
      boolean[] any = {false};
      db.scan(Family.LEDGER, new byte[0], (k, v) -> any[0] = true);
      scheme = (any[0] ? WITH_LEGACY : KEYED).getBytes(StandardCharsets.UTF_8);
      byte[] value = scheme;
      db.write(b -> b.put(Family.LEDGER, SCHEME_KEY, value));
    }
    boolean legacy = new String(scheme, StandardCharsets.UTF_8).equals(WITH_LEGACY);
    return new EraseLedger(db, legacy ? keys.withLegacy() : keys);
  }

  /** The key a new entry for {@code id} is stored under. */
  String key(String id) {
    return keys.key(id);
  }

  /** True when {@code id} was erased by one of the versions in {@code lineage}. */
  boolean isErased(String model, String id, Collection<Long> lineage) {
    return erasedBy(model, id, lineage) != null;
  }

  /** The earliest "erase" event of {@code id} made by a version in {@code lineage}, or null. */
  private LedgerEvent erasedBy(String model, String id, Collection<Long> lineage) {
    if (lineage.isEmpty()) {
      return null;
    }
    LedgerEvent[] found = {null};
    for (String key : keys.candidates(id)) {
      db.scan(Family.LEDGER, Keys.concat(Keys.of(model, "e", key), new byte[] {0}), (k, v) -> {
        LedgerEvent e = parse(v);
        // The first such event: the erase request itself (a later one re-entering the version
        // after a rollback carries no request id).
        if (e.getEvent().equals(ERASE) && lineage.contains(e.getVersion())
            && (found[0] == null || e.getUnixMs() < found[0].getUnixMs())) {
          found[0] = e;
        }
      });
    }
    return found[0];
  }

  /**
   * Whether {@code id} is erased in a version of {@code lineage}, with the erase that did it, and
   * the id's latest event of any kind (an "unerase" after a rollback, say).
   */
  ErasureCheck check(String model, String id, Collection<Long> lineage) {
    LedgerEvent erase = erasedBy(model, id, lineage);
    LedgerEvent[] last = {null};
    for (String key : keys.candidates(id)) {
      db.scan(Family.LEDGER, Keys.concat(Keys.of(model, "e", key), new byte[] {0}), (k, v) -> {
        LedgerEvent e = parse(v);
        if (last[0] == null || e.getUnixMs() >= last[0].getUnixMs()) {
          last[0] = e;
        }
      });
    }
    return new ErasureCheck(id, erase != null,
        erase == null ? 0 : erase.getVersion(),
        erase == null ? "" : erase.getRequestId(),
        erase == null ? 0 : erase.getUnixMs(),
        last[0] == null ? "" : last[0].getEvent());
  }

  /** Adds the "erase" events of one erase version to {@code batch}. */
  void recordErase(LetheDb.Batch batch, String model, long version, List<String> idShas,
      String requestId, long unixMs) {
    Map<String, Slot> pending = new HashMap<>();
    for (String sha : idShas) {
      append(batch, pending, model, sha, LedgerEvent.newBuilder().setVersion(version)
          .setRequestId(requestId).setUnixMs(unixMs).setEvent(ERASE).setKeyed(true));
      batch.put(Family.LEDGER, indexKey(model, version, sha), new byte[0]);
    }
  }

  /**
   * Adds events for an activation that leaves the erase versions {@code undone} and re-enters
   * {@code redone}: "unerase" for each id of the former, "erase" for each id of the latter.
   */
  void recordActivation(LetheDb.Batch batch, String model, long activated,
      Set<Long> undone, Set<Long> redone, long unixMs) {
    Map<String, Slot> pending = new HashMap<>();
    for (long u : undone) {
      for (String sha : idsOf(model, u)) {
        append(batch, pending, model, sha, LedgerEvent.newBuilder().setVersion(activated)
            .setUnixMs(unixMs).setEvent(UNERASE));
      }
    }
    for (long r : redone) {
      for (String sha : idsOf(model, r)) {
        append(batch, pending, model, sha, LedgerEvent.newBuilder().setVersion(r)
            .setUnixMs(unixMs).setEvent(ERASE));
      }
    }
  }

  /** The hashes of the ids erased by erase version {@code version}. */
  List<String> idsOf(String model, long version) {
    byte[] prefix = Keys.concat(Keys.of(model, "v"), versionBytes(version, true));
    List<String> out = new ArrayList<>();
    db.scan(Family.LEDGER, prefix, (k, v) ->
        out.add(new String(k, prefix.length, k.length - prefix.length, StandardCharsets.UTF_8)));
    return out;
  }

  /** A page of events in key order (by id hash, then time) and the token of the next page. */
  public record Page(List<LedgerEntry> entries, String nextPageToken) {}

  /**
   * Pages the events of a model. {@code pageToken} is "" for the first page, else the token of
   * the previous page.
   *
   * @throws LetheException INVALID_ARGUMENT for a malformed token
   */
  Page list(String model, int pageSize, String pageToken) {
    byte[] prefix = Keys.concat(Keys.of(model, "e"), new byte[] {0});
    byte[] after;
    try {
      after = pageToken.isEmpty() ? null : HexFormat.of().parseHex(pageToken);
    } catch (IllegalArgumentException e) {
      throw LetheException.invalid("page_token", "not a token this server issued");
    }
    if (after != null && !Keys.startsWith(after, prefix)) {
      throw LetheException.invalid("page_token", "belongs to another model");
    }
    List<LedgerEntry> entries = new ArrayList<>();
    byte[][] last = {null};
    boolean[] more = {false};
    db.scan(Family.LEDGER, prefix, (k, v) -> {
      if (more[0] || (after != null && Arrays.compareUnsigned(k, after) <= 0)) {
        return;
      }
      if (entries.size() == pageSize) {
        more[0] = true;
        return;
      }
      String sha = new String(k, prefix.length, 64, StandardCharsets.UTF_8);
      LedgerEvent e = parse(v);
      entries.add(new LedgerEntry(sha, e.getKeyed(), e.getVersion(), e.getRequestId(),
          e.getUnixMs(), e.getEvent()));
      last[0] = k;
    });
    return new Page(entries, more[0] ? HexFormat.of().formatHex(last[0]) : "");
  }

  /** The next sequence number of a key in the batch being built, and how the key was made. */
  private record Slot(long next, boolean keyed) {}

  /**
   * Appends an event under the key's next sequence number; {@code pending} holds the slots this
   * batch already used (the batch is not readable before it commits). An event is marked keyed
   * as the key's first event is: plain SHA-256 keys of old stores stay marked as such.
   */
  private void append(LetheDb.Batch batch, Map<String, Slot> pending, String model, String key,
      LedgerEvent.Builder event) {
    byte[] prefix = Keys.concat(Keys.of(model, "e", key), new byte[] {0});
    Slot slot = pending.computeIfAbsent(key, s -> {
      long[] count = {0};
      boolean[] keyed = {true};
      db.scan(Family.LEDGER, prefix, (k, v) -> {
        if (count[0]++ == 0) {
          keyed[0] = parse(v).getKeyed();
        }
      });
      return new Slot(count[0], keyed[0]);
    });
    pending.put(key, new Slot(slot.next() + 1, slot.keyed()));
    batch.put(Family.LEDGER, Keys.concat(prefix, versionBytes(slot.next(), false)),
        event.setKeyed(slot.keyed()).build().toByteArray());
  }

  private static byte[] indexKey(String model, long version, String sha) {
    return Keys.concat(Keys.concat(Keys.of(model, "v"), versionBytes(version, true)),
        sha.getBytes(StandardCharsets.UTF_8));
  }

  private static byte[] versionBytes(long v, boolean separated) {
    ByteBuffer b = ByteBuffer.allocate(separated ? 9 : 8);
    if (separated) {
      b.put((byte) 0);
    }
    return b.putLong(v).array();
  }

  private static LedgerEvent parse(byte[] v) {
    try {
      return LedgerEvent.parseFrom(v);
    } catch (InvalidProtocolBufferException e) {
      throw new StorageException("corrupt ledger event", e);
    }
  }
}
