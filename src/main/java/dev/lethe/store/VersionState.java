package dev.lethe.store;

/**
 * One kept version of a model.
 *
 * @param trainSize samples still represented by this version's weights
 * @param origin "upload" or "erase"
 * @param sha256 hex digest of the ONNX file served for this version
 */
public record VersionState(
    long version, long trainSize, long createdUnixMs, String origin, String sha256, long sizeBytes) {}
