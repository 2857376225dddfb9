package dev.lethe.onnx;

/**
 * How large an uploaded graph may be ({@link ModelAudit}): bounds on the work a single upload
 * can cause in parsing and in ONNX Runtime's session creation.
 *
 * @param maxNodes nodes in all graphs and functions together
 * @param maxDepth how deep subgraphs (If/Loop/Scan bodies) may nest; 0 = none allowed
 * @param maxElements elements any one tensor may declare
 */
public record GraphLimits(long maxNodes, int maxDepth, long maxElements) {
  public static final long DEFAULT_MAX_NODES = 50_000;
  public static final int DEFAULT_MAX_DEPTH = 8;
  public static final long DEFAULT_MAX_ELEMENTS = 1L << 31;

  public GraphLimits {
    if (maxNodes < 1 || maxDepth < 0 || maxElements < 1) {
      throw new IllegalArgumentException("graph limits must be positive (nodes " + maxNodes
          + ", depth " + maxDepth + ", elements " + maxElements + ")");
    }
  }

  /**
   * No size bounds, for models already stored (they passed the limits in force when uploaded);
   * {@link ModelAudit} still refuses external data.
   */
  public static GraphLimits unbounded() {
    return new GraphLimits(Long.MAX_VALUE, Integer.MAX_VALUE, Long.MAX_VALUE);
  }

  public static GraphLimits defaults() {
    return new GraphLimits(DEFAULT_MAX_NODES, DEFAULT_MAX_DEPTH, DEFAULT_MAX_ELEMENTS);
  }
}
