package dev.lethe.store;

import dev.lethe.onnx.GraphLimits;
import java.nio.file.Path;

/**
 * Store settings.
 *
 * @param retention versions kept per model (the active one is never dropped)
 * @param maxModelBytes largest accepted ONNX file
 * @param exportDir where each new active version is also written in Triton's repository
 *     layout; null for none
 * @param graphLimits how large an uploaded graph may be (nodes, subgraph depth, elements)
 */
public record StoreConfig(int retention, long maxModelBytes, Path exportDir, GraphLimits graphLimits) {
  public static final int DEFAULT_RETENTION = 10;
  public static final long DEFAULT_MAX_MODEL_BYTES = 1L << 30;

  public StoreConfig {
    if (retention < 1) {
      throw new IllegalArgumentException("retention must be at least 1, got " + retention);
    }
    if (maxModelBytes < 1 || maxModelBytes > Integer.MAX_VALUE - 64) {
      throw new IllegalArgumentException("maxModelBytes must be in [1, 2 GiB), got " + maxModelBytes);
    }
    if (graphLimits == null) {
      throw new IllegalArgumentException("graphLimits must not be null");
    }
  }

  /** The default graph limits. */
  public StoreConfig(int retention, long maxModelBytes, Path exportDir) {
    this(retention, maxModelBytes, exportDir, GraphLimits.defaults());
  }

  public StoreConfig(int retention, long maxModelBytes) {
    this(retention, maxModelBytes, null);
  }

  public static StoreConfig defaults() {
    return new StoreConfig(DEFAULT_RETENTION, DEFAULT_MAX_MODEL_BYTES);
  }
}
