package dev.lethe.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Row selection on batches. Stateless. */
public final class Batches {
  private Batches() {}

  /** A new batch of the given rows (in that order) of every input, the labels and the ids. */
  public static Samples rows(Samples batch, int[] rows) {
    Map<String, DenseTensor> inputs = new LinkedHashMap<>();
    batch.inputs().forEach((name, t) -> inputs.put(name, rows(t, rows)));
    List<String> ids = new ArrayList<>();
    if (!batch.ids().isEmpty()) {
      for (int r : rows) {
        ids.add(batch.ids().get(r));
      }
    }
    return new Samples(ids, inputs, batch.labels() == null ? null : rows(batch.labels(), rows));
  }

  /** Rows [from, to). */
  public static Samples range(Samples batch, int from, int to) {
    int[] rows = new int[to - from];
    for (int i = 0; i < rows.length; i++) {
      rows[i] = from + i;
    }
    return rows(batch, rows);
  }

  static DenseTensor rows(DenseTensor t, int[] rows) {
    long[] dims = t.dims().clone();
    int width = dims[0] == 0 ? 0 : (int) (t.length() / dims[0]);
    dims[0] = rows.length;
    if (t.isFloat()) {
      float[] out = new float[rows.length * width];
      for (int i = 0; i < rows.length; i++) {
        System.arraycopy(t.floats(), rows[i] * width, out, i * width, width);
      }
      return DenseTensor.ofFloats(dims, out);
    }
    long[] out = new long[rows.length * width];
    for (int i = 0; i < rows.length; i++) {
      System.arraycopy(t.longs(), rows[i] * width, out, i * width, width);
    }
    return DenseTensor.ofLongs(dims, out);
  }
}
