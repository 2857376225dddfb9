package dev.lethe.store;

import dev.lethe.storage.records.ModelRecord;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * What follows a committed change of a model: the export of its active version and the watchers.
 * The change is committed already, so nothing here may fail it: a failed export is logged (the
 * export directory is brought up to date at the next start) and a listener that throws is
 * removed. Listeners only record the state (see {@link ModelStore#watch}); no client I/O happens
 * here, though it runs under the model's lock.
 *
 * <p>Called by {@link ModelStore} under the model's lock, in commit order; stateless otherwise.
 */
final class ModelPublisher {
  private static final Logger LOG = Logger.getLogger(ModelPublisher.class.getName());
  private final ExportDirectory export;

  /** @param export the export directory, or null for none */
  ModelPublisher(ExportDirectory export) {
    this.export = export;
  }

  void published(ModelEntry e, ModelRecord updated, ModelState info) {
    try {
      if (export != null) {
        export.publishActive(updated, e.runtime, Records.exportLayout(updated));
      }
    } catch (RuntimeException | OutOfMemoryError ex) {
      LOG.log(Level.WARNING, "model " + updated.getName() + " version "
          + updated.getActiveVersion() + " is committed; exporting it failed", ex);
    }
    for (Consumer<ModelState> l : e.listeners) {
      try {
        l.accept(info);
      } catch (RuntimeException | OutOfMemoryError ex) {
        e.listeners.remove(l);
      }
    }
  }
}
