package dev.lethe.store;

import dev.lethe.core.LetheException;
import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.records.ModelRecord;
import dev.lethe.storage.records.VersionRecord;
import java.util.Set;
import java.util.TreeSet;

/**
 * What making a kept version active does to the erasures in effect: the erase versions whose
 * influence returns (undone: in the current version's lineage, not in the target's) and those
 * that take effect again (redone). Immutable.
 */
record Activation(Set<Long> undone, Set<Long> redone) {
  /**
   * The change from {@code current} to {@code target}.
   *
   * @throws LetheException FAILED_PRECONDITION when erasures would be undone without
   *     {@code allowUnerase}
   */
  /**
   * Writes the activation of kept version {@code version} of {@code r} with its ledger events
   * in one synced write and returns the new record ({@code r} itself when it is active already).
   *
   * @throws LetheException NOT_FOUND, FAILED_PRECONDITION (see {@link #of})
   */
  static ModelRecord commit(LetheDb db, EraseLedger ledger, ModelRecord r, long version,
      boolean allowUnerase) {
    String name = r.getName();
    VersionRecord target = ModelReads.keptVersion(r, version);
    if (r.getActiveVersion() == version) {
      return r;
    }
    Activation change = of(name, Records.version(r, r.getActiveVersion()), target, allowUnerase);
    ModelRecord updated = r.toBuilder().setActiveVersion(version).build();
    long now = System.currentTimeMillis();
    db.write(b -> {
      b.put(Family.MODELS, Keys.model(name), updated.toByteArray());
      ledger.recordActivation(b, name, version, change.undone(), change.redone(), now);
    });
    return updated;
  }

  static Activation of(String model, VersionRecord current, VersionRecord target,
      boolean allowUnerase) {
    Set<Long> undone = new TreeSet<>(current.getEraseLineageList());
    undone.removeAll(target.getEraseLineageList());
    Set<Long> redone = new TreeSet<>(target.getEraseLineageList());
    redone.removeAll(current.getEraseLineageList());
    if (!undone.isEmpty() && !allowUnerase) {
      throw LetheException.precondition("version " + target.getVersion() + " of model '" + model
          + "' predates the erasures made by versions " + undone + "; activating it brings the "
          + "erased samples' influence back: set allow_unerase to do so (the ledger records it)");
    }
    return new Activation(undone, redone);
  }
}
