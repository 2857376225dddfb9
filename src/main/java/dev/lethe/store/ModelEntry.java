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
}
