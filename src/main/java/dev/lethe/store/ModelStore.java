package dev.lethe.store;

import ai.onnxruntime.OrtEnvironment;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.lethe.core.LetheException;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;
import dev.lethe.eval.Evaluation;
import dev.lethe.onnx.GradientEngine;
import dev.lethe.onnx.GradientResult;
import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.StorageException;
import dev.lethe.storage.records.ModelRecord;
import dev.lethe.storage.records.VersionRecord;
import java.util.ArrayList;
import java.util.Set;
import java.util.TreeSet;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
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
 * per-model ONNX Runtime sessions and closes them in {@link #close()}.
 */
public final class ModelStore implements AutoCloseable {
  private final LetheDb db;
  private final OrtEnvironment env;
  private final StoreConfig config;
  private final ConcurrentHashMap<String, ReentrantLock> locks = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Entry> models = new ConcurrentHashMap<>();
  private final ModelRegistrar registrar;
  private final EraseLedger ledger;
  private final ExportDirectory export;
  private volatile boolean closed;

  /** A registered model: its current record (the published snapshot), runtime and watchers. */
  static final class Entry {
    volatile ModelRecord record;
    final ModelRuntime runtime;
    final List<Consumer<ModelState>> listeners = new CopyOnWriteArrayList<>();

    Entry(ModelRecord record, ModelRuntime runtime) {
      this.record = record;
      this.runtime = runtime;
    }
  }

  /** Opens the store over {@code db}, loading every registered model's record. */
  public ModelStore(LetheDb db, OrtEnvironment env, StoreConfig config) {
    this.db = db;
    this.env = env;
    this.config = config;
    this.registrar = new ModelRegistrar(db, env, config);
    this.ledger = new EraseLedger(db);
    this.export = config.exportDir() == null ? null : new ExportDirectory(config.exportDir());
    db.scan(Family.MODELS, new byte[0], (key, value) -> {
      try {
        ModelRecord r = ModelRecord.parseFrom(value);
        models.put(r.getName(), new Entry(r, new ModelRuntime(r, db, env)));
      } catch (InvalidProtocolBufferException e) {
        throw new StorageException("corrupt model record " + new String(key, java.nio.charset.StandardCharsets.UTF_8), e);
      }
    });
    // After a crash the export directory may lag the store: bring it up to date.
    if (export != null) {
      models.values().forEach(e -> export.publishActive(e.record, e.runtime));
    }
  }

  public StoreConfig config() {
    return config;
  }

  /**
   * Registers a model, or adds a version to an existing one when the graph is identical. The new
   * version becomes active.
   *
   * @throws LetheException INVALID_ARGUMENT for a bad spec or file, ALREADY_EXISTS when the name
   *     exists with another graph, RESOURCE_EXHAUSTED when the file exceeds the limit
   */
  public ModelState put(ModelConfig spec, byte[] file) {
    ensureOpen();
    SpecValidator.check(spec);
    if (file.length > config.maxModelBytes()) {
      throw LetheException.tooLarge("chunk",
          "model of " + file.length + " bytes exceeds the limit of " + config.maxModelBytes());
    }
    ReentrantLock lock = lockFor(spec.name());
    lock.lock();
    try {
      Entry existing = models.get(spec.name());
      ModelRegistrar.Registered reg =
          registrar.register(spec, file, existing == null ? null : existing.record);
      Entry entry = existing;
      if (entry == null) {
        entry = new Entry(reg.record(), new ModelRuntime(reg.record(), db, env));
        entry.runtime.adoptForward(reg.forward());
        models.put(spec.name(), entry);
      }
      entry.runtime.cache(new VersionWeights(reg.record().getActiveVersion(), reg.weights(),
          entry.runtime.parameterOffsets()));
      publish(entry, reg.record());
      return info(entry.record);
    } finally {
      lock.unlock();
    }
  }

  public List<ModelState> list() {
    ensureOpen();
    List<ModelState> out = new ArrayList<>();
    models.values().stream()
        .map(e -> e.record)
        .sorted(Comparator.comparing(ModelRecord::getName))
        .forEach(r -> out.add(info(r)));
    return out;
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
    Entry e = entry(name);
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
      Entry e = entry(name);
      ModelRecord r = e.record;
      VersionRecord target = ModelReads.keptVersion(r, version);
      if (r.getActiveVersion() == version) {
        return info(r);
      }
      Activation change = Activation.of(name, Records.version(r, r.getActiveVersion()), target,
          allowUnerase);
      ModelRecord updated = r.toBuilder().setActiveVersion(version).build();
      long now = System.currentTimeMillis();
      db.write(b -> {
        b.put(Family.MODELS, Keys.model(name), updated.toByteArray());
        ledger.recordActivation(b, name, version, change.undone(), change.redone(), now);
      });
      publish(e, updated);
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
   * A new version made from the active one (an erase): commits its weights, record and
   * {@code extra} changes in one synced batch, activates it, then tells watchers. Call it inside
   * {@link #locked}.
   *
   * @param weights spec-order float32 little-endian, the size of the model's parameters
   * @param extra adds changes to the same batch; receives the new version number
   * @throws LetheException FAILED_PRECONDITION when {@code expectedActive} is no longer active
   */
  public Added addVersion(String name, long expectedActive, byte[] weights, long trainSize,
      String origin, boolean isErasure, String fisherId,
      java.util.function.BiConsumer<dev.lethe.storage.LetheDb.Batch, Long> extra) {
    ensureOpen();
    Entry e = entry(name);
    if (!lockFor(name).isHeldByCurrentThread()) {
      throw new IllegalStateException("addVersion must run inside locked(" + name + ")");
    }
    long start = System.nanoTime();
    ModelRecord r = e.record;
    VersionWeights w = new VersionWeights(r.getNextVersion(), weights, e.runtime.parameterOffsets());
    ModelRecord updated = VersionCommit.derive(db, config.retention(), r, e.runtime, w, weights,
        expectedActive, trainSize, origin, isErasure, fisherId, extra);
    long committed = System.nanoTime();
    e.runtime.cache(w);
    publish(e, updated);
    return new Added(info(updated), (committed - start) / 1e6, (System.nanoTime() - committed) / 1e6);
  }

  /**
   * A committed version.
   *
   * @param commitMs composing, hashing and the synced write
   * @param publishMs the switch of the active snapshot, the export and the watchers
   */
  public record Added(ModelState info, double commitMs, double publishMs) {}

  /** Runs {@code body} holding the model's lock: changes to the model are serialised. */
  public <T> T locked(String name, java.util.function.Supplier<T> body) {
    entry(name);
    ReentrantLock lock = lockFor(name);
    lock.lock();
    try {
      return body.get();
    } finally {
      lock.unlock();
    }
  }

  /** The ledger (shared; writes go through {@link #addVersion} and {@link #setActive}). */
  public EraseLedger ledger() {
    return ledger;
  }

  /** The erase lineage of a kept version (0 = active). */
  public List<Long> eraseLineage(String name, long version) {
    return ModelReads.keptVersion(entry(name).record, version).getEraseLineageList();
  }

  /**
   * Pages a model's erasure ledger.
   *
   * @throws LetheException NOT_FOUND, INVALID_ARGUMENT for a bad page size or token
   */
  public EraseLedger.Page listErasures(String name, int pageSize, String pageToken) {
    entry(name);
    if (pageSize < 0 || pageSize > 10_000) {
      throw LetheException.invalid("page_size", "must be in [0, 10000] (0 = 100), got " + pageSize);
    }
    return ledger.list(name, pageSize == 0 ? 100 : pageSize, pageToken);
  }

  /**
   * Calls {@code listener} with the model's current state, then after every change, until the
   * returned handle is closed. The listener runs on the changing thread and must not block; one
   * that throws is removed.
   *
   * @throws LetheException NOT_FOUND
   */
  public AutoCloseable watch(String name, Consumer<ModelState> listener) {
    Entry e = entry(name);
    locked(name, () -> {
      listener.accept(info(e.record));
      return e.listeners.add(listener);
    });
    return () -> e.listeners.remove(listener);
  }

  /**
   * Evaluates a version (0 = active) on labelled samples.
   *
   * @throws LetheException NOT_FOUND, INVALID_ARGUMENT for samples not matching the model
   */
  public Evaluation evaluate(String name, long version, Samples batch) {
    Entry e = entry(name);
    return ModelReads.atVersion(e, version, (r, v) -> ModelReads.evaluate(e, r, v, batch));
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
    Entry e = entry(name);
    return ModelReads.atVersion(e, version, (r, v) -> new Gradients(v.getVersion(),
        ModelReads.gradients(e, r, v, batch, full, maxResponseBytes)));
  }

  /**
   * Per-sample gradients of ⟨v_i, z_i⟩ (z the logits, no L2 term) for a cotangent {@code v}
   * [N, C] at a version (0 = active); see {@link GradientEngine#computeWithCotangent}.
   */
  public GradientResult cotangentGradients(String name, long version, Samples batch,
      float[] cotangent) {
    Entry e = entry(name);
    return ModelReads.atVersion(e, version,
        (r, v) -> ModelReads.cotangentGradients(e, r, v, batch, cotangent));
  }

  /** Logits [N, C] of a version (0 = active); the batch needs no labels. */
  public float[] logits(String name, long version, Samples batch) {
    Entry e = entry(name);
    return ModelReads.atVersion(e, version, (r, v) -> ModelReads.logits(e, v, batch));
  }

  /** A {@link GradientResult} and the version it was computed at. */
  public record Gradients(long version, GradientResult result) {}

  /**
   * Evaluates weights that are not (yet) a version, e.g. an erase's candidate, with the active
   * version's graph. The batch must already have passed {@link #evaluate}'s checks for this model.
   */
  public Evaluation evaluateWeights(String name, Samples batch, float[] weights) {
    return ModelReads.evaluateWeights(entry(name), batch, weights);
  }

  /** The weights of a kept version (0 = active); read-only. */
  public VersionWeights weights(String name, long version) {
    Entry e = entry(name);
    return ModelReads.atVersion(e, version, (r, v) -> e.runtime.weights(v.getVersion()));
  }

  /** Shapes of the erasable parameters, spec order. */
  public List<long[]> parameterShapes(String name) {
    return entry(name).runtime.parameters().stream().map(p -> p.dims().clone()).toList();
  }

  /** The resolved version number (0 = active) and its train_size. */
  public VersionState version(String name, long version) {
    return Records.versionInfo(ModelReads.keptVersion(entry(name).record, version));
  }

  /** Fisher ids referenced by kept versions. */
  public Set<String> fisherIdsInUse(String name) {
    return entry(name).record.getVersionsList().stream().map(VersionRecord::getFisherId)
        .filter(id -> !id.isEmpty()).collect(java.util.stream.Collectors.toCollection(TreeSet::new));
  }

  /** The inverse Fisher attached to a kept version (0 = active), or "" for none. */
  public String fisherId(String name, long version) {
    return ModelReads.keptVersion(entry(name).record, version).getFisherId();
  }

  /**
   * Attaches a built inverse Fisher to a kept version (its weights are those it was computed at).
   * Watchers see {@code fisher_ready}.
   */
  public ModelState attachFisher(String name, long version, String fisherId) {
    ensureOpen();
    return rewrite(name, r -> {
      long v = ModelReads.keptVersion(r, version).getVersion();
      ModelRecord.Builder b = r.toBuilder();
      for (int i = 0; i < b.getVersionsCount(); i++) {
        if (b.getVersions(i).getVersion() == v) {
          b.setVersions(i, b.getVersions(i).toBuilder().setFisherId(fisherId));
        }
      }
      return b.build();
    });
  }

  /**
   * Under the model's lock: applies {@code change} to the model record, writes the result (one
   * synced write) and publishes it; a change that alters nothing writes and tells nothing.
   */
  private ModelState rewrite(String name, java.util.function.UnaryOperator<ModelRecord> change) {
    return locked(name, () -> {
      Entry e = entry(name);
      ModelRecord updated = change.apply(e.record);
      if (updated.equals(e.record)) {
        return info(updated);
      }
      db.write(batch -> batch.put(Family.MODELS, Keys.model(name), updated.toByteArray()));
      publish(e, updated);
      return info(updated);
    });
  }

  /** Makes a committed record current: exports the active version, then tells watchers. */
  private void publish(Entry e, ModelRecord updated) {
    e.record = updated;
    if (export != null) {
      export.publishActive(updated, e.runtime);
    }
    ModelState info = info(updated);
    for (Consumer<ModelState> l : e.listeners) {
      try {
        l.accept(info);
      } catch (RuntimeException ex) {
        e.listeners.remove(l);
      }
    }
  }

  private ModelState info(ModelRecord r) {
    long count = ModelReads.parameterCount(r);
    VersionRecord active = Records.version(r, r.getActiveVersion());
    return Records.info(r, count, active != null && !active.getFisherId().isEmpty());
  }

  private Entry entry(String name) {
    ensureOpen();
    SpecValidator.checkName("name", name);
    Entry e = models.get(name);
    if (e == null) {
      throw LetheException.notFound("model '" + name + "' is not registered");
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
    for (Entry e : models.values()) {
      e.runtime.close();
      e.listeners.clear();
    }
  }
}
