package dev.lethe.torch;

/**
 * How much work reading one archive may cause ({@link TorchArchive#read}): bounds that make a zip
 * bomb or a hostile pickle a clear refusal instead of an out-of-memory error. Storages are never
 * inflated (they must be stored uncompressed, as {@code torch.jit.save} writes them), so only the
 * metadata entries ({@code data.pkl}, {@code constants.pkl}, the class code) are bounded here;
 * their declared sizes are checked before anything is inflated, and inflation stops at the
 * declared size.
 *
 * @param maxEntries zip entries in the archive
 * @param maxCentralDirectoryBytes size of the zip's central directory
 * @param maxMetadataBytes inflated size of any one metadata entry
 * @param maxTotalMetadataBytes inflated size of all metadata entries read together
 * @param maxModuleDepth how deep submodules may nest
 */
public record ArchiveLimits(int maxEntries, long maxCentralDirectoryBytes, long maxMetadataBytes,
    long maxTotalMetadataBytes, int maxModuleDepth) {
  public static final int DEFAULT_MAX_ENTRIES = 100_000;
  public static final long DEFAULT_MAX_CENTRAL_DIRECTORY_BYTES = 64L << 20;
  public static final long DEFAULT_MAX_METADATA_BYTES = 64L << 20;
  public static final long DEFAULT_MAX_TOTAL_METADATA_BYTES = 256L << 20;
  public static final int DEFAULT_MAX_MODULE_DEPTH = 256;

  public ArchiveLimits {
    if (maxEntries < 1 || maxCentralDirectoryBytes < 1 || maxMetadataBytes < 1 || maxTotalMetadataBytes < 1
        || maxModuleDepth < 1) {
      throw new IllegalArgumentException("archive limits must be positive");
    }
    if (maxMetadataBytes > Integer.MAX_VALUE - 16 || maxCentralDirectoryBytes > Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException("an entry read into memory must fit in an array");
    }
  }

  public static ArchiveLimits defaults() {
    return new ArchiveLimits(DEFAULT_MAX_ENTRIES, DEFAULT_MAX_CENTRAL_DIRECTORY_BYTES, DEFAULT_MAX_METADATA_BYTES,
        DEFAULT_MAX_TOTAL_METADATA_BYTES, DEFAULT_MAX_MODULE_DEPTH);
  }
}
