package dev.lethe.store;

import dev.lethe.core.LetheException;
import dev.lethe.core.Messages;
import dev.lethe.storage.records.ModelRecord;
import java.util.ArrayList;
import java.util.List;

/**
 * The ledger questions {@link ModelStore} answers with their argument checks: which ids a
 * version's erasures hold (the attestation an upload over them needs), per-id proof, and pages.
 * Stateless; the store resolves the model and its lineage and holds the lock where needed.
 */
final class ErasureQueries {
  private ErasureQueries() {}

  /**
   * The erased ids in effect in the active version of {@code active}; a new version over them
   * needs {@code trainedWithoutErased}.
   *
   * @throws LetheException FAILED_PRECONDITION naming {@code spec.trained_without_erased} and the
   *     count when ids are in effect and the upload does not attest
   */
  static long attest(EraseLedger ledger, ModelRecord active, boolean trainedWithoutErased) {
    String name = active.getName();
    List<Long> lineage = ModelReads.keptVersion(active, 0).getEraseLineageList();
    long inEffect = inEffect(ledger, active);
    if (inEffect > 0 && !trainedWithoutErased) {
      throw LetheException.precondition("spec.trained_without_erased: " + inEffect
          + " erased sample ids (by " + lineage.size() + " erases) are in effect in model '"
          + name + "' version " + active.getActiveVersion() + "; a new version "
          + "must be trained without them: retrain without them and set "
          + "spec.trained_without_erased = true");
    }
    return inEffect;
  }

  /** How many erased ids are in effect in the active version of {@code r}. */
  static long inEffect(EraseLedger ledger, ModelRecord r) {
    long n = 0;
    for (long v : ModelReads.keptVersion(r, 0).getEraseLineageList()) {
      n += ledger.idsOf(r.getName(), v).size();
    }
    return n;
  }

  /**
   * A new model under the name of a deleted one whose erasures were in effect (its tombstone
   * counts them) needs the attestation too: re-uploading the deleted model's pre-erasure file
   * would bring the erased samples back. Returns the count the attestation covers (0 without a
   * tombstone).
   *
   * @throws LetheException FAILED_PRECONDITION naming {@code spec.trained_without_erased}
   */
  static long attestOverDeleted(String name, dev.lethe.storage.records.DeletedModel tomb,
      boolean trainedWithoutErased) {
    long n = tomb == null ? 0 : tomb.getErasedInEffect();
    if (n > 0 && !trainedWithoutErased) {
      throw LetheException.precondition("spec.trained_without_erased: a deleted model '" + name
          + "' had " + n + " erased sample ids in effect; a model registered under its name must "
          + "be trained without them: retrain without them and set "
          + "spec.trained_without_erased = true");
    }
    return n;
  }

  /**
   * For each id, whether an erase in {@code lineage} removed it, by which erase, and its latest
   * event.
   *
   * @throws LetheException INVALID_ARGUMENT naming {@code ids} for none, more than
   *     {@link ModelStore#MAX_CHECK_IDS}, or an empty or over-long id
   */
  static List<ErasureCheck> check(EraseLedger ledger, String name, List<String> ids,
      List<Long> lineage) {
    if (ids.isEmpty() || ids.size() > ModelStore.MAX_CHECK_IDS) {
      throw LetheException.invalid("ids", "give 1 to " + ModelStore.MAX_CHECK_IDS + " ids, got "
          + ids.size());
    }
    for (String id : ids) {
      if (id.isEmpty() || id.length() > ModelStore.MAX_ID_CHARS) {
        throw LetheException.invalid("ids", "each id must have 1 to " + ModelStore.MAX_ID_CHARS
            + " characters, got '" + Messages.quote(id) + "'");
      }
    }
    List<ErasureCheck> out = new ArrayList<>(ids.size());
    for (String id : ids) {
      out.add(ledger.check(name, id, lineage));
    }
    return out;
  }

  /**
   * A page of the model's ledger.
   *
   * @throws LetheException INVALID_ARGUMENT for a page size outside [0, 10000] or a bad token
   */
  static EraseLedger.Page page(EraseLedger ledger, String name, int pageSize, String pageToken) {
    if (pageSize < 0 || pageSize > 10_000) {
      throw LetheException.invalid("page_size", "must be in [0, 10000] (0 = 100), got " + pageSize);
    }
    return ledger.list(name, pageSize == 0 ? 100 : pageSize, pageToken);
  }
}
