package dev.lethe.store;

import ai.onnxruntime.OrtEnvironment;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.lethe.core.LetheException;
import dev.lethe.core.Messages;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;
import dev.lethe.eval.Evaluation;
import dev.lethe.fisher.FisherTarget;
import dev.lethe.onnx.GradientResult;
import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.StorageException;
import dev.lethe.storage.records.ModelRecord;
import dev.lethe.storage.records.VersionRecord;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The versioned model store: registers models, keeps their versions, serves files and
 * evaluations, and tells watchers about every change.
 *
 * <p>Every state change is one synced RocksDB write batch, then published by replacing the
 * model's immutable {@link ModelRecord} reference: readers take one reference and never block on,
 * or see half of, a change. Changes to one model are serialised by its lock; listeners are called
 * under it, in commit order, and must not block.
 *
 * <p>Thread-safe. Does not own the {@link LetheDb} (the caller closes it after this); owns the
 * per-model backends (ONNX Runtime sessions, TorchScript modules) and closes them in {@link #close()}.
 */
public final class ModelStore implements AutoCloseable {
  private final LetheDb db;
  private final OrtEnvironment env;
  private final StoreConfig config;
  private final ConcurrentHashMap<String, ReentrantLock> locks = new ConcurrentHashMap<>();
  final ConcurrentHashMap<String, ModelEntry> models = new ConcurrentHashMap<>(); // package: tests
  private final ModelRegistrar registrar;
  private final EraseLedger ledger;
  private final RequestLog requests;
  private final ExportDirectory export;
  private final ModelPublisher publisher;
  final GradientWarmer warmer;
  private final dev.lethe.fisher.FisherStore fishers;
  private volatile boolean closed;

  /**
   * Opens the store over {@code db} with the ledger secret of its data directory
   * ({@link LedgerKeys#inDataDir}, created on first use).
   */
  public ModelStore(LetheDb db, OrtEnvironment env, StoreConfig config) {
    this(db, env, config, LedgerKeys.inDataDir(db.directory()));
  }

  /** Opens the store over {@code db}, loading every registered model's record. */
  public ModelStore(LetheDb db, OrtEnvironment env, StoreConfig config, LedgerKeys ledgerKeys) {
    this.db = db;
    this.env = env;
    this.config = config;
    this.registrar = new ModelRegistrar(db, env, config);
    this.ledger = EraseLedger.open(db, ledgerKeys);
    this.requests = new RequestLog(db);
    this.fishers = new dev.lethe.fisher.FisherStore(db);
    this.export = config.exportDir() == null ? null : new ExportDirectory(config.exportDir());
    this.publisher = new ModelPublisher(export);
    models.putAll(ModelEntry.loadAll(db, env));
    StagedUpload.sweep(db.directory().resolve("tmp"));
    warmer = GradientWarmer.start(List.copyOf(models.values()));
    // After a crash the export directory may lag the store: bring it up to date.
    if (export != null) {
      models.values().forEach(e -> export.publishActive(e.record, e.runtime,
          Records.exportLayout(e.record)));
    }
  }

  public StoreConfig config() {
    return config;
  }

  /** As {@link #put(ModelConfig, byte[], boolean)} without the attestation. */
  public ModelState put(ModelConfig spec, byte[] file) {
    return put(spec, file, false);
  }

  /** A new upload staged in {@code <data-dir>/tmp} ({@link StagedUpload}); the caller closes it. */
  public StagedUpload stage() {
    return new StagedUpload(db.directory().resolve("tmp"), config.maxModelBytes());
  }

  /**
   * Registers a model, or adds a version to an existing one when the graph is identical; the
   * new version becomes active. A new version of a model whose active version has
   * erasures in effect needs {@code trainedWithoutErased}, the uploader's attestation that it
   * was trained without every erased id (else an upload of the pre-erasure file would silently
   * bring the erased samples back); the attestation and the count it covered are recorded with
   * the version, and the erased ids stay erased.
   *
   * @throws LetheException INVALID_ARGUMENT for a bad spec or file, ALREADY_EXISTS when the
   *     name exists with another graph, RESOURCE_EXHAUSTED when the file exceeds the limit,
   *     FAILED_PRECONDITION naming {@code spec.trained_without_erased} and the count of erased
   *     ids in effect (also those of a deleted model of the name)
   */
  public ModelState put(ModelConfig spec, byte[] file, boolean trainedWithoutErased) {
    try (StagedUpload staged = StagedUpload.copyOf(new java.io.ByteArrayInputStream(file),
        db.directory().resolve("tmp"), config.maxModelBytes())) {
      return put(spec, staged, trainedWithoutErased);
    }
  }

  /** As {@link #put(ModelConfig, byte[], boolean)} for a staged upload (scanned in place; not closed). */
  public ModelState put(ModelConfig spec, StagedUpload file, boolean trainedWithoutErased) {
    ensureOpen();
    long started = System.nanoTime();
    SpecValidator.check(spec); // the staged file is within --max-model-bytes (StagedUpload)
    ReentrantLock lock = lockFor(spec.name());
    lock.lock();
    try {
      ModelEntry existing = models.get(spec.name());
      var tomb = existing == null ? ModelDeletion.tombstone(db, spec.name()) : null;
      long erasedInEffect = existing == null
          ? ErasureQueries.attestOverDeleted(spec.name(), tomb, trainedWithoutErased)
          : ErasureQueries.attest(ledger, existing.record, trainedWithoutErased);
      ModelRegistrar.Registered reg = registrar.register(spec, file.file(),
          existing == null ? null : existing.record, trainedWithoutErased, erasedInEffect,
          tomb == null ? 1 : tomb.getNextVersion());
      ModelEntry entry = existing;
      if (entry == null) {
        entry = new ModelEntry(reg.record(), new ModelRuntime(reg.record(), db, reg.backend()));
        models.put(spec.name(), entry);
      }
      entry.runtime.cache(new VersionWeights(reg.record().getActiveVersion(), reg.weights(),
          entry.runtime.parameterOffsets()));
      publish(entry, reg.record());
      entry.runtime.warm(reg.record().getActiveVersion(), spec.loss(), reg.record().getL2());
      return info(entry.record).withRegistrationMillis((System.nanoTime() - started) / 1_000_000);
    } finally {
      lock.unlock();
    }
  }

  public List<ModelState> list() {
    ensureOpen();
    return models.values().stream().map(e -> e.record)
        .sorted(Comparator.comparing(ModelRecord::getName)).map(this::info).toList();
  }

  /** @throws LetheException NOT_FOUND */
  public ModelState info(String name) {
    return info(entry(name).record);
  }

  /**
   * Opens the ONNX file of a version (0 = active) for streaming; the caller closes it.
   *
   * @throws LetheException NOT_FOUND for an unknown model or version
   */
  public ModelFile open(String name, long version) {
    ModelEntry e = entry(name);
    return ModelReads.atVersion(e, version, (r, v) -> new ModelFile(name, v.getVersion(), v.getSizeBytes(),
        v.getSha256(), e.runtime.open(v.getVersion())));
  }

  /**
   * Makes a kept version active.
   *
   * @throws LetheException NOT_FOUND for an unknown model or version
   */
  public ModelState setActive(String name, long version, boolean allowUnerase) {
    ensureOpen();
    if (version <= 0) {
      throw LetheException.invalid("version", "must be a version number >= 1, got " + version);
    }
    return locked(name, () -> {
      ModelEntry e = entry(name);
      ModelRecord updated = Activation.commit(db, ledger, e.record, version, allowUnerase);
      if (updated != e.record) {
        publish(e, updated);
      }
      return info(updated);
    });
  }

  /**
   * Sets ε, the scale of the SSSE step, in the model's spec. Erases that start afterwards use it
   * (they read the spec under the model's lock, so an erase in flight keeps the ε it began with);
   * no version is created. One synced write of the model record, then published like any change:
   * watchers get the new info. Setting the current value changes nothing.
   *
   * @throws LetheException INVALID_ARGUMENT for a bad name or a scale that is not a finite
   *     number &gt; 0, NOT_FOUND for an unknown model
   */
  public ModelState setScale(String name, double scale) {
    ensureOpen();
    SpecValidator.checkName("name", name);
    SpecValidator.checkScale("scale", scale);
    return rewrite(name, r -> r.toBuilder().setScale(scale).build());
  }

  /**
   * Deletes a model in one synced write (see {@link ModelDeletion}); its ledger entries stay.
   * Its sessions are closed, its export directory removed; watchers are told with null.
   *
   * @param expectedVersion 0 = any; else FAILED_PRECONDITION unless it is the active version
   * @throws LetheException NOT_FOUND, FAILED_PRECONDITION
   */
  public ModelDeletion.Deleted delete(String name, long expectedVersion) {
    ensureOpen();
    return locked(name, () -> {
      ModelEntry e = entry(name);
      ModelDeletion.Deleted d = ModelDeletion.delete(db, ledger, e.record, expectedVersion);
      models.remove(name);
      e.tell(null); // watchers learn the model is gone (see watch)
      e.listeners.clear();
      e.runtime.close();
      if (export != null) {
        export.remove(name);
      }
      return d;
    });
  }

  /**
   * Corrects spec fields that are safe to change (see {@link SpecCorrection}) in one synced
   * write of the model record; no version is created; watchers get the new info.
   *
   * @throws LetheException INVALID_ARGUMENT naming {@code fields} or the field, NOT_FOUND,
   *     FAILED_PRECONDITION for a training fact a Fisher or an erase was computed from
   */
  public ModelState updateSpec(String name, ModelConfig values, List<String> fields) {
    ensureOpen();
    SpecValidator.checkName("name", name);
    return rewrite(name, r -> SpecCorrection.apply(r, values, fields));
  }

  /**
   * Opens an erase of the model's active version: takes the model's lock (held until the session
   * is closed) and a snapshot of what the erase needs (see {@link EraseSession}).
   *
   * @param requestId the idempotency key ("" = none): the session carries its stored answer
   * @param ids the request's sample ids, whose erasure state the session reports
   * @throws LetheException NOT_FOUND for an unknown model
   */
  public EraseSession openErase(String name, String requestId, List<String> ids) {
    ModelEntry e = entry(name);
    ReentrantLock lock = lockFor(name);
    lock.lock();
    try {
      ensureOpen();
      return new EraseSession((snapshot, c, requestIds) -> {
        ensureOpen();
        return VersionCommit.erase(db, config.retention(), e, snapshot, c, requestIds, ledger,
            requests, this::publish);
      }, e, lock, ledger, requests, requestId, ids);
    } catch (RuntimeException ex) {
      lock.unlock();
      throw ex;
    }
  }

  /** Runs {@code body} holding the model's lock: changes to the model are serialised. */
  <T> T locked(String name, java.util.function.Supplier<T> body) {
    entry(name);
    ReentrantLock lock = lockFor(name);
    lock.lock();
    try {
      return body.get();
    } finally {
      lock.unlock();
    }
  }

  /**
   * True when an erase in the active version's lineage removed {@code id}.
   *
   * @throws LetheException NOT_FOUND
   */
  public boolean isErased(String name, String id) {
    ModelRecord r = entry(name).record;
    return ledger.isErased(name, id, ModelReads.keptVersion(r, 0).getEraseLineageList());
  }

  /**
   * Deletes every stored Fisher and weight set no kept version references (crash debris that
   * may hold erased samples' data); see {@link OrphanSweep}. Call at start, before serving.
   */
  public OrphanSweep.Swept sweepOrphans() {
    ensureOpen();
    return OrphanSweep.run(db, models.values().stream().map(e -> e.record).toList());
  }

  /** Most ids one {@link #checkErasure} call may ask about. */
  public static final int MAX_CHECK_IDS = 1000;
  /** Longest sample id the ledger takes (the erase path refuses longer ones). */
  public static final int MAX_ID_CHARS = 1024;

  /**
   * For each id, whether it is erased in the active version, by which erase, and its latest
   * ledger event (for a deleted model: erased false, the ledger's last event). The ids are
   * hashed under the ledger secret and not stored.
   *
   * @throws LetheException NOT_FOUND; INVALID_ARGUMENT naming {@code ids} for none, more than
   *     {@link #MAX_CHECK_IDS}, or an empty or over-long id
   */
  public List<ErasureCheck> checkErasure(String name, List<String> ids) {
    return ErasureQueries.check(ledger, name, ids, lineage(name));
  }

  /**
   * Pages a model's erasure ledger (also of a deleted model: its entries stay).
   *
   * @throws LetheException NOT_FOUND, INVALID_ARGUMENT for a bad page size or token
   */
  public EraseLedger.Page listErasures(String name, int pageSize, String pageToken) {
    lineage(name);
    return ErasureQueries.page(ledger, name, pageSize, pageToken);
  }

  /** The active version's erase lineage; none for a deleted model; NOT_FOUND for neither. */
  private List<Long> lineage(String name) {
    ensureOpen();
    SpecValidator.checkName("name", name);
    if (!models.containsKey(name) && ModelDeletion.tombstone(db, name) != null) {
      return List.of();
    }
    return ModelReads.keptVersion(entry(name).record, 0).getEraseLineageList();
  }

  /**
   * Calls {@code listener} with the model's current state, then after every change, until the
   * returned handle is closed. The listener runs on the changing thread under the model's lock:
   * it must only record the state (no blocking, no client I/O); one that throws is removed. When
   * the model is deleted it is called once with null, then never.
   *
   * @throws LetheException NOT_FOUND
   */
  public AutoCloseable watch(String name, Consumer<ModelState> listener) {
    ModelEntry e = entry(name);
    locked(name, () -> {
      listener.accept(info(e.record));
      return e.listeners.add(listener);
    });
    return () -> e.listeners.remove(listener);
  }

  /** Evaluates a version (0 = active) on labelled samples; NOT_FOUND, INVALID_ARGUMENT. */
  public Evaluation evaluate(String name, long version, Samples batch) {
    return ModelReads.evaluate(entry(name), version, batch);
  }

  /**
   * Per-sample losses and gradients of a version (0 = active) on labelled samples; with
   * {@code full} false only the norms (the [N, P] matrix is not returned).
   *
   * @throws LetheException NOT_FOUND, INVALID_ARGUMENT for samples not matching the model,
   *     RESOURCE_EXHAUSTED when the full matrix would exceed {@code maxResponseBytes}
   */
  public Gradients gradients(String name, long version, Samples batch, boolean full,
      long maxResponseBytes) {
    return ModelReads.gradients(entry(name), version, batch, full, maxResponseBytes);
  }

  /** A {@link GradientResult} and the version it was computed at. */
  public record Gradients(long version, GradientResult result) {}

  /**
   * The kept version (0 = active) a Fisher build is for, resolved now: its weights are the ones
   * the build's gradients are taken at.
   *
   * @throws LetheException NOT_FOUND for an unknown model or version
   */
  public FisherTarget fisherTarget(String name, long version) {
    ModelEntry e = entry(name);
    ModelRecord r = e.record;
    VersionRecord v = ModelReads.keptVersion(r, version);
    return new BuildTarget(this, name, v.getVersion(), v.getTrainSize(),
        Records.spec(r, v.getTrainSize()), new VersionView(e, r, v));
  }

  /** Deletes a stored Fisher no version references (a build whose attach failed). */
  void dropFisher(String name, String fisherId) {
    fishers.delete(name, fisherId);
  }

  /**
   * Under the model's lock: applies {@code change} to the model record, writes the result (one
   * synced write) and publishes it; a change that alters nothing writes and tells nothing.
   */
  ModelState rewrite(String name, java.util.function.UnaryOperator<ModelRecord> change) {
    return locked(name, () -> {
      ModelEntry e = entry(name);
      ModelRecord updated = change.apply(e.record);
      if (updated.equals(e.record)) {
        return info(updated);
      }
      ModelRecord before = e.record;
      db.write(batch -> {
        batch.put(Family.MODELS, Keys.model(name), updated.toByteArray());
        VersionCommit.dropUnreferencedFishers(batch, before, updated);
      });
      publish(e, updated);
      return info(updated);
    });
  }

  /** Makes a committed record current, exports it and tells watchers ({@link ModelPublisher}). */
  private void publish(ModelEntry e, ModelRecord updated) {
    e.record = updated;
    publisher.published(e, updated, info(updated));
  }

  private ModelState info(ModelRecord r) {
    return Records.info(r, ModelReads.parameterCount(r), fishers);
  }

  private ModelEntry entry(String name) {
    ensureOpen();
    SpecValidator.checkName("name", name);
    ModelEntry e = models.get(name);
    if (e == null) {
      throw LetheException.notFound("model '" + Messages.quote(name) + "' is not registered");
    }
    return e;
  }

  private ReentrantLock lockFor(String name) {
    return locks.computeIfAbsent(name, k -> new ReentrantLock());
  }

  private void ensureOpen() {
    if (closed) {
      throw new LetheException(LetheException.Kind.UNAVAILABLE, "the store is shutting down");
    }
  }

  /** Closes the ONNX Runtime sessions. Idempotent. */
  @Override
  public void close() {
    closed = true;
    warmer.close();
    for (ModelEntry e : models.values()) {
      e.runtime.close();
      e.listeners.clear();
    }
  }
}
