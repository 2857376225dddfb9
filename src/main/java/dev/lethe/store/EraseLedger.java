package dev.lethe.store;

import dev.lethe.core.Sha256;
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
 * SHA-256 (never the id, the sample or its gradient). Append-only: an erasure adds an "erase"
 * event; activating a version that predates erasures adds "unerase" events (and going forward
 * again adds "erase" events), so the ledger never loses history.
 *
 * <p>Keys (ledger column family): {@code model 0 "e" 0 sha 0 seq(8)} for events, and
 * {@code model 0 "v" 0 version(8) sha} as an index of the ids an erase version removed.
 *
 * <p>Whether an id is erased in a version follows from the version's erase lineage (the erase
 * versions among it and its ancestors): it is iff one of the id's "erase" events was made by a
 * version in that lineage. Stateless; thread-safe; callers serialise writes per model.
 */
public final class EraseLedger {
  static final String ERASE = "erase";
  static final String UNERASE = "unerase";
  private final LetheDb db;

  EraseLedger(LetheDb db) {
    this.db = db;
  }

  /** Hex SHA-256 of a sample id's UTF-8 bytes. */
  public static String idHash(String id) {
    return Sha256.hex(id);
  }

  /** True when {@code idSha} was erased by one of the versions in {@code lineage}. */
  boolean isErased(String model, String idSha, Collection<Long> lineage) {
    if (lineage.isEmpty()) {
      return false;
    }
    boolean[] erased = {false};
    db.scan(Family.LEDGER, Keys.concat(Keys.of(model, "e", idSha), new byte[] {0}), (k, v) -> {
      LedgerEvent e = parse(v);
      if (e.getEvent().equals(ERASE) && lineage.contains(e.getVersion())) {
        erased[0] = true;
      }
    });
    return erased[0];
  }

  /** Adds the "erase" events of one erase version to {@code batch}. */
  void recordErase(LetheDb.Batch batch, String model, long version, List<String> idShas,
      String requestId, long unixMs) {
    Map<String, Long> pending = new HashMap<>();
    for (String sha : idShas) {
      append(batch, pending, model, sha, LedgerEvent.newBuilder().setVersion(version)
          .setRequestId(requestId).setUnixMs(unixMs).setEvent(ERASE).build());
      batch.put(Family.LEDGER, indexKey(model, version, sha), new byte[0]);
    }
  }

  /**
   * Adds events for an activation that leaves the erase versions {@code undone} and re-enters
   * {@code redone}: "unerase" for each id of the former, "erase" for each id of the latter.
   */
  void recordActivation(LetheDb.Batch batch, String model, long activated,
      Set<Long> undone, Set<Long> redone, long unixMs) {
    Map<String, Long> pending = new HashMap<>();
    for (long u : undone) {
      for (String sha : idsOf(model, u)) {
        append(batch, pending, model, sha, LedgerEvent.newBuilder().setVersion(activated)
            .setUnixMs(unixMs).setEvent(UNERASE).build());
      }
    }
    for (long r : redone) {
      for (String sha : idsOf(model, r)) {
        append(batch, pending, model, sha, LedgerEvent.newBuilder().setVersion(r)
            .setUnixMs(unixMs).setEvent(ERASE).build());
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
      entries.add(new LedgerEntry(sha, e.getVersion(), e.getRequestId(), e.getUnixMs(), e.getEvent()));
      last[0] = k;
    });
    return new Page(entries, more[0] ? HexFormat.of().formatHex(last[0]) : "");
  }

  /**
   * Appends an event under the id's next sequence number; {@code pending} counts the events this
   * batch already added per id (the batch is not readable before it commits).
   */
  private void append(LetheDb.Batch batch, Map<String, Long> pending, String model, String sha,
      LedgerEvent event) {
    byte[] prefix = Keys.concat(Keys.of(model, "e", sha), new byte[] {0});
    long seq = pending.computeIfAbsent(sha, s -> {
      long[] count = {0};
      db.scan(Family.LEDGER, prefix, (k, v) -> count[0]++);
      return count[0];
    });
    pending.put(sha, seq + 1);
    batch.put(Family.LEDGER, Keys.concat(prefix, versionBytes(seq, false)), event.toByteArray());
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
