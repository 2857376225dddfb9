package dev.lethe.store;

import dev.lethe.storage.records.ModelRecord;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * A registered model in {@link ModelStore}: its current record (the published snapshot, replaced
 * whole on every committed change), its runtime and its watchers. Readers take one record
 * reference; writers replace it under the model's lock.
 */
final class ModelEntry {
  volatile ModelRecord record;
  final ModelRuntime runtime;
  final List<Consumer<ModelState>> listeners = new CopyOnWriteArrayList<>();

  ModelEntry(ModelRecord record, ModelRuntime runtime) {
    this.record = record;
    this.runtime = runtime;
  }

  /** Tells every watcher; one that throws is removed. */
  void tell(ModelState info) {
    for (Consumer<ModelState> l : listeners) {
      try {
        l.accept(info);
      } catch (RuntimeException ex) {
        listeners.remove(l);
      }
    }
  }

  /** Every registered model's entry, read from the {@code models} family at start. */
  static java.util.Map<String, ModelEntry> loadAll(dev.lethe.storage.LetheDb db,
      ai.onnxruntime.OrtEnvironment env) {
    java.util.Map<String, ModelEntry> out = new java.util.HashMap<>();
    db.scan(dev.lethe.storage.Family.MODELS, new byte[0], (key, value) -> {
      try {
        ModelRecord r = ModelRecord.parseFrom(value);
        out.put(r.getName(), new ModelEntry(r, new ModelRuntime(r, db, ModelBackends.open(r, db, env))));
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new dev.lethe.storage.StorageException("corrupt model record "
            + new String(key, java.nio.charset.StandardCharsets.UTF_8), e);
      }
    });
    return out;
  }
}
