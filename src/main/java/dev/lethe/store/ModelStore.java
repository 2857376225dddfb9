package dev.lethe.store;

import ai.onnxruntime.OrtEnvironment;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.lethe.core.LetheException;
import dev.lethe.core.Loss;
import dev.lethe.core.ModelSpec;
import dev.lethe.core.SampleBatch;
import dev.lethe.eval.Evaluation;
import dev.lethe.eval.Metrics;
import dev.lethe.onnx.BatchValidator;
import dev.lethe.onnx.ForwardSession;
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
  private volatile boolean closed;

  /** A registered model: its current record (the published snapshot), runtime and watchers. */
  static final class Entry {
    volatile ModelRecord record;
    final ModelRuntime runtime;
    final List<Consumer<ModelInfo>> listeners = new CopyOnWriteArrayList<>();

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
    db.scan(Family.MODELS, new byte[0], (key, value) -> {
      try {
        ModelRecord r = ModelRecord.parseFrom(value);
        models.put(r.getName(), new Entry(r, new ModelRuntime(r, db, env)));
      } catch (InvalidProtocolBufferException e) {
        throw new StorageException("corrupt model record " + new String(key, java.nio.charset.StandardCharsets.UTF_8), e);
      }
    });
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
  public ModelInfo put(ModelSpec spec, byte[] file) {
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

  public List<ModelInfo> list() {
    ensureOpen();
    List<ModelInfo> out = new ArrayList<>();
    models.values().stream()
        .map(e -> e.record)
        .sorted(Comparator.comparing(ModelRecord::getName))
        .forEach(r -> out.add(info(r)));
    return out;
  }

  /** @throws LetheException NOT_FOUND */
  public ModelInfo info(String name) {
    return info(entry(name).record);
  }

  /**
   * Opens the ONNX file of a version (0 = active) for streaming; the caller closes it.
   *
   * @throws LetheException NOT_FOUND for an unknown model or version
   */
  public ModelFile open(String name, long version) {
    Entry e = entry(name);
    ModelRecord r = e.record;
    VersionRecord v = keptVersion(r, version);
    return new ModelFile(name, v.getVersion(), v.getSizeBytes(), v.getSha256(),
        e.runtime.open(v.getVersion()));
  }

  /**
   * Makes a kept version active.
   *
   * @throws LetheException NOT_FOUND for an unknown model or version
   */
  public ModelInfo setActive(String name, long version, boolean allowUnerase) {
    ensureOpen();
    if (version <= 0) {
      throw LetheException.invalid("version", "must be a version number >= 1, got " + version);
    }
    Entry e = entry(name);
    ReentrantLock lock = lockFor(name);
    lock.lock();
    try {
      ModelRecord r = e.record;
      keptVersion(r, version);
      if (r.getActiveVersion() == version) {
        return info(r);
      }
      ModelRecord updated = r.toBuilder().setActiveVersion(version).build();
      db.write(b -> b.put(Family.MODELS, Keys.model(name), updated.toByteArray()));
      publish(e, updated);
      return info(updated);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Calls {@code listener} with the model's current state, then after every change, until the
   * returned handle is closed. The listener runs on the changing thread and must not block; one
   * that throws is removed.
   *
   * @throws LetheException NOT_FOUND
   */
  public AutoCloseable watch(String name, Consumer<ModelInfo> listener) {
    Entry e = entry(name);
    ReentrantLock lock = lockFor(name);
    lock.lock();
    try {
      listener.accept(info(e.record));
      e.listeners.add(listener);
    } finally {
      lock.unlock();
    }
    return () -> e.listeners.remove(listener);
  }

  /**
   * Evaluates a version (0 = active) on labelled samples.
   *
   * @throws LetheException NOT_FOUND, INVALID_ARGUMENT for samples not matching the model
   */
  public Evaluation evaluate(String name, long version, SampleBatch batch) {
    Entry e = entry(name);
    ModelRecord r = e.record;
    VersionRecord v = keptVersion(r, version);
    int n = BatchValidator.checkInputs(e.runtime.inputs(), batch);
    Loss loss = Loss.valueOf(r.getLoss());
    long[] outputDims = r.getOutputDimsList().stream().mapToLong(Long::longValue).toArray();
    BatchValidator.checkLabels(loss, outputDims, n, batch.labels());
    VersionWeights w = e.runtime.weights(v.getVersion());
    ForwardSession forward = e.runtime.forward(v.getVersion());
    ForwardSession.Logits logits = forward.logits(batch, n, w.parameters());
    return Metrics.evaluate(loss, logits.values(), n, batch.labels(), v.getVersion());
  }

  private void publish(Entry e, ModelRecord updated) {
    e.record = updated;
    ModelInfo info = info(updated);
    for (Consumer<ModelInfo> l : e.listeners) {
      try {
        l.accept(info);
      } catch (RuntimeException ex) {
        e.listeners.remove(l);
      }
    }
  }

  private ModelInfo info(ModelRecord r) {
    long count = 0;
    for (var p : r.getParametersList()) {
      long n = 1;
      for (long d : p.getDimsList()) {
        n *= d;
      }
      count += n;
    }
    return Records.info(r, count, false);
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

  private static VersionRecord keptVersion(ModelRecord r, long version) {
    if (version < 0) {
      throw LetheException.invalid("version", "must be >= 0 (0 = active), got " + version);
    }
    long wanted = version == 0 ? r.getActiveVersion() : version;
    VersionRecord v = Records.version(r, wanted);
    if (v == null) {
      throw LetheException.notFound("model '" + r.getName() + "' has no version " + wanted
          + " (kept: " + r.getVersionsList().stream().map(VersionRecord::getVersion).toList() + ")");
    }
    return v;
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
