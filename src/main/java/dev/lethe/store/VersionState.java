package dev.lethe.store;

/**
 * One kept version of a model.
 *
 * @param trainSize samples still represented by this version's weights
 * @param origin "upload" or "erase"
 * @param sha256 hex digest of the ONNX file served for this version
 * @param trainedWithoutErased an upload whose uploader attested it was trained without the ids
 *     erased so far
 * @param erasedIdsAttested how many erased ids were in effect when that was attested
 */
public record VersionState(
    long version, long trainSize, long createdUnixMs, String origin, String sha256, long sizeBytes,
    boolean trainedWithoutErased, long erasedIdsAttested) {

  /** A version with no attestation. */
  public VersionState(long version, long trainSize, long createdUnixMs, String origin,
      String sha256, long sizeBytes) {
    this(version, trainSize, createdUnixMs, origin, sha256, sizeBytes, false, 0);
  }
}
