package dev.lethe.store;

import dev.lethe.core.EraseOutcome;
import java.util.List;

/**
 * What an erase commits, as one value: the new version's weights and train_size, the Fisher it
 * uses, the erased ids' hashes for the ledger, and the answer kept under the request id.
 *
 * @param weights the new version's erasable parameters, spec order: P float32 little-endian in
 *     a direct buffer (position 0), which the new version keeps (not written after); null when
 *     nothing was left to erase: then only the answer is recorded (no version, no ledger entry)
 * @param trainSize n − k
 * @param fisherId the Fisher the new version uses (the downdated one, or the parent's); when it
 *     differs from the parent's, the parent's Fisher is replaced: every version drops it and it
 *     is deleted in the same write (it still holds the erased samples' terms)
 * @param fisherVersion the version whose weights that Fisher's rows were taken at (kept while
 *     the Fisher is in use)
 * @param idHashes the ledger key of each erased id ({@link EraseSession#idHashes})
 * @param requestId the idempotency key, "" for none (then nothing is recorded for replays)
 * @param requestDigest SHA-256 over the request's content, kept with the answer
 * @param answer the response; the store sets its version to the committed one
 */
public record EraseCommit(java.nio.ByteBuffer weights, long trainSize, String fisherId, long fisherVersion,
    List<String> idHashes,
    String requestId, String requestDigest, EraseOutcome answer) {

  public EraseCommit {
    idHashes = List.copyOf(idHashes);
  }
}
