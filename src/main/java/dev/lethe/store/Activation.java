package dev.lethe.store;

import dev.lethe.core.LetheException;
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
