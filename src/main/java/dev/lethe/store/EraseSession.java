package dev.lethe.store;

import dev.lethe.core.EraseOutcome;
import dev.lethe.core.ModelConfig;
import dev.lethe.fisher.ModelView;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.records.ModelRecord;
import dev.lethe.storage.records.VersionRecord;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One erase's hold on a model: opened by {@link ModelStore#openErase}, it holds the model's lock
 * (erases and other changes to the model are serialised; readers never wait) and a snapshot of
 * the active version taken under it — its number, train_size, configuration, Fisher and
 * weights, the stored answer to the request id if there is one, and which of the request's ids
 * an earlier erase in this version's lineage removed. {@link #commit} writes the erase in one
 * synced batch; {@link #close()} releases the lock (try-with-resources).
 *
 * <p>Owned by the thread that opened it; not for use by others.
 */
public final class EraseSession implements AutoCloseable {
  /** How the store commits for this session (its entry and snapshot bound in). */
  interface Committer {
    Committed commit(ModelRecord snapshot, EraseCommit c, List<String> requestIds);
  }

  private final Committer committer;
  private final ReentrantLock lock;
  private final ModelEntry entry;
  private final ModelRecord record;
  private final VersionView view;
  private float[] weights;
  private final List<String> idHashes;
  private final List<String> requestIds;
  private final boolean[] erased;
  private final Optional<Answer> stored;
  private boolean open = true;

  /** An answer kept under a request id, and the digest of the request it answered. */
  public record Answer(EraseOutcome outcome, String requestDigest) {}

  EraseSession(Committer committer, ModelEntry entry, ReentrantLock lock, EraseLedger ledger,
      RequestLog requests, String requestId, List<String> ids) {
    this.committer = committer;
    this.lock = lock;
    this.entry = entry;
    this.record = entry.record;
    VersionRecord active = ModelReads.keptVersion(record, 0);
    this.view = new VersionView(entry, record, active);
    this.stored = requestId.isEmpty() ? Optional.empty()
        : Optional.ofNullable(requests.find(record.getName(), requestId, ids));
    this.requestIds = List.copyOf(ids);
    List<String> hashes = new ArrayList<>(ids.size());
    this.erased = new boolean[ids.size()];
    for (int i = 0; i < ids.size(); i++) {
      hashes.add(ledger.key(ids.get(i)));
      erased[i] = ledger.isErased(record.getName(), ids.get(i), active.getEraseLineageList());
    }
    this.idHashes = List.copyOf(hashes);
  }

  public String model() {
    return record.getName();
  }

  /** The active version the erase starts from. */
  public long version() {
    return view.version();
  }

  /** n, the active version's train_size. */
  public long trainSize() {
    return view.record().getTrainSize();
  }

  public ModelConfig config() {
    return Records.spec(record, trainSize());
  }

  /** The active version's Fisher, "" for none. */
  public String fisherId() {
    return view.record().getFisherId();
  }

  /**
   * The version whose weights the active version's Fisher was built at (its record's
   * fisher_version; 0 for records from before it was kept).
   */
  public long fisherVersion() {
    return view.record().getFisherVersion();
  }

  /**
   * A kept version of the model, as this session's snapshot has it — for a leave-out erase,
   * the version its Fisher was built at — or empty when that version is no longer kept.
   */
  public Optional<ModelView> viewOf(long version) {
    for (VersionRecord v : record.getVersionsList()) {
      if (v.getVersion() == version) {
        return Optional.of(new VersionView(entry, record, v));
      }
    }
    return Optional.empty();
  }

  /** The active version: the sample check, per-sample gradients and losses at its weights. */
  public ModelView view() {
    return view;
  }

  /**
   * θ, the active version's erasable parameters (spec order): one copy per session, made on
   * the first call and shared by the later ones (callers must not modify it).
   */
  public float[] weights() {
    if (weights == null) {
      weights = view.weights().toArray();
    }
    return weights;
  }

  /** The answer kept under the request id, if the id was used before. */
  public Optional<Answer> storedAnswer() {
    return stored;
  }

  /** The ledger key (HMAC under the ledger secret) of each of the request's ids, request order. */
  public List<String> idHashes() {
    return idHashes;
  }

  /** Per request id: true when an erase in the active version's lineage removed it. */
  public boolean erasedBefore(int row) {
    return erased[row];
  }

  /**
   * Commits the erase in one synced write — the new version (made active), its ledger entries
   * and the answer under the request id — then tells watchers; with no weights, records only the
   * answer. Call once.
   *
   * @return the committed version (the active one when nothing was erased) and the timings
   */
  public Committed commit(EraseCommit c) {
    if (!open) {
      throw new IllegalStateException("erase session of " + model() + " is closed");
    }
    return committer.commit(record, c, requestIds);
  }

  /**
   * A committed erase.
   *
   * @param commitMs composing, hashing and the synced write
   * @param publishMs the switch of the active snapshot, the export and the watchers
   */
  public record Committed(long version, double commitMs, double publishMs) {}

  /** Releases the model's lock. Idempotent. */
  @Override
  public void close() {
    if (open) {
      open = false;
      lock.unlock();
    }
  }

  static void recordAnswer(LetheDb.Batch batch, RequestLog requests, String model, EraseCommit c,
      long version, List<String> requestIds) {
    if (!c.requestId().isEmpty()) {
      requests.record(batch, model, c.requestId(), c.requestDigest(), c.answer().atVersion(version),
          requestIds);
    }
  }
}
