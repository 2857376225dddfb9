package dev.lethe.core;

import java.util.List;
import java.util.Map;

/**
 * N samples: one id per row (may be empty when ids are not needed), graph inputs by name (first
 * dimension = N) and labels (int64 [N] class indices, or float [N, ...] targets; null when a
 * request needs no labels). Immutable by convention: callers must not modify the contents.
 */
public record Samples(List<String> ids, Map<String, DenseTensor> inputs, DenseTensor labels) {

  public Samples {
    ids = List.copyOf(ids);
    inputs = Map.copyOf(inputs);
  }

  /** The batch size, taken from the first input (0 when there are none). */
  public int size() {
    for (DenseTensor t : inputs.values()) {
      return (int) t.batch();
    }
    return labels == null ? 0 : (int) labels.batch();
  }
}
