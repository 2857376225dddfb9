package dev.lethe.store;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.StorageException;
import dev.lethe.storage.records.DeletedModel;
import dev.lethe.storage.records.ModelRecord;
import java.util.HashSet;
import java.util.Set;

/**
 * DeleteModel's write: one synced batch removes the model's record, graph, every weight set,
 * every Fisher (attached or not) and its stored erase answers, and writes the name's
 * {@link DeletedModel} tombstone in the ledger family. The ledger's events stay: they prove the
 * deleted model's erasures. A model registered later under the name numbers its versions after
 * the deleted ones (the ledger's version numbers keep one meaning) and, while the tombstone
 * counts erased ids, needs the trained-without-erased attestation (re-uploading the pre-erasure
 * file would bring the erased samples back). Stateless; callers hold the model's lock.
 */
public final class ModelDeletion {
  private ModelDeletion() {}

  /** What a deletion removed and kept. */
  public record Deleted(String name, int versions, int fishers, long ledgerEntriesKept) {}

  /** The tombstone key of a name: model 0x00 "d" (beside the ledger's "e" and "v" keys). */
  static byte[] tombstoneKey(String name) {
    return Keys.of(name, "d");
  }

  /** The name's tombstone, or null when no model of that name was deleted. */
  static DeletedModel tombstone(LetheDb db, String name) {
    byte[] v = db.get(Family.LEDGER, tombstoneKey(name));
    if (v == null) {
      return null;
    }
    try {
      return DeletedModel.parseFrom(v);
    } catch (InvalidProtocolBufferException e) {
      throw new StorageException("corrupt tombstone of model " + name, e);
    }
  }

  /**
   * Deletes the model {@code r} in one synced write.
   *
   * @param expectedVersion 0 = any; else the version that must be active
   * @throws dev.lethe.core.LetheException FAILED_PRECONDITION naming {@code expected_version}
   */
  static Deleted delete(LetheDb db, EraseLedger ledger, ModelRecord r, long expectedVersion) {
    String name = r.getName();
    if (expectedVersion != 0 && r.getActiveVersion() != expectedVersion) {
      throw dev.lethe.core.LetheException.precondition("expected_version: model '" + name
          + "' active version is " + r.getActiveVersion() + ", not " + expectedVersion);
    }
    long erasedInEffect = ErasureQueries.inEffect(ledger, r);
    byte[] prefix = Keys.modelPrefix(name);
    DeletedModel before = tombstone(db, name);
    DeletedModel tomb = DeletedModel.newBuilder()
        .setNextVersion(r.getNextVersion())
        // cumulative: a model made over a tombstone does not carry the earlier erasures in its
        // lineage, so they must keep requiring the attestation
        .setErasedInEffect(erasedInEffect + (before == null ? 0 : before.getErasedInEffect()))
        .setDeletedUnixMs(System.currentTimeMillis())
        .build();
    Set<String> fishers = new HashSet<>();
    dev.lethe.fisher.FisherStore.storedIds(db).getOrDefault(name, Set.of()).forEach(fishers::add);
    long kept = ledger.list(name, Integer.MAX_VALUE, "").entries().size();
    db.write(b -> {
      b.delete(Family.MODELS, Keys.model(name));
      b.deletePrefix(Family.GRAPHS, prefix);
      b.deletePrefix(Family.WEIGHTS, prefix);
      b.deletePrefix(Family.FISHER, prefix);
      b.deletePrefix(Family.REQUESTS, prefix);
      b.put(Family.LEDGER, tombstoneKey(name), tomb.toByteArray());
    });
    return new Deleted(name, r.getVersionsCount(), fishers.size(), kept);
  }
}
