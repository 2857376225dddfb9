package dev.lethe.store;

import dev.lethe.core.Memory;
import dev.lethe.core.MemoryBudget;
import dev.lethe.core.MemoryPool;
import dev.lethe.onnx.FileSplit;
import dev.lethe.onnx.GraphLimits;
import dev.lethe.onnx.ModelScan;
import dev.lethe.onnx.ScannedModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A model file on disk scanned for registration or for ONNX Runtime, with the heap that holds
 * reserved from the upload share of the memory budget ({@link Memory#uploads()}): first
 * {@link MemoryBudget#UPLOAD_HEAP_FACTOR} times the model's structure (the file without its
 * large initializers, {@link ModelScan}) before it is parsed, then twice the erasable weights
 * before they are read ({@link #split}). The weights of frozen layers stay in the file, so the
 * largest model is bounded by {@code --max-model-bytes} and by its structure, not by the heap.
 *
 * <p>Not thread-safe; closed by its creator (releases the reservations, not the file).
 */
final class UploadScan implements AutoCloseable {
  private static final long WAIT_MILLIS = 30_000;
  private final List<MemoryPool.Reservation> held = new ArrayList<>();
  private final ScannedModel model;

  private UploadScan(Path file, GraphLimits limits) {
    ModelScan.Layout layout = ModelScan.layout(file);
    hold(MemoryBudget.UPLOAD_HEAP_FACTOR * layout.structureBytes(), "checking a model whose "
        + "structure (the file less its initializers of " + ModelScan.CUT_BYTES / 1024
        + " KiB or more) is " + layout.structureBytes() + " bytes (parsed on the heap, "
        + MemoryBudget.UPLOAD_HEAP_FACTOR + " x) does");
    try {
      ScannedModel scanned = layout.scan(limits);
      if (layout.cutBytes() > 0 && ModelScan.needsWhole(scanned)) {
        // symbolic sequence lengths: each new length builds a graph from the structure later
        ModelScan.Layout whole = ModelScan.whole(file);
        hold(MemoryBudget.UPLOAD_HEAP_FACTOR * whole.structureBytes(), "checking a model with"
            + " symbolic dimensions after the batch (its initializers stay on the heap) of "
            + whole.structureBytes() + " bytes does");
        scanned = whole.scan(limits);
      }
      this.model = scanned;
    } catch (RuntimeException e) {
      close();
      throw e;
    } catch (OutOfMemoryError e) {
      close();
      throw Memory.outOfMemory("parsing a model structure of " + layout.structureBytes() + " bytes", e);
    }
  }

  /**
   * Scans {@code file}.
   *
   * @throws dev.lethe.core.LetheException RESOURCE_EXHAUSTED (field chunk) when the structure's
   *     heap does not fit the upload share, or as {@link ModelScan.Layout#scan}
   */
  static UploadScan open(Path file, GraphLimits limits) {
    return new UploadScan(file, limits);
  }

  ScannedModel model() {
    return model;
  }

  /** As {@link ScannedModel#split}, after reserving twice the weights it reads. */
  FileSplit split(List<String> parameters, long[] elementCounts) {
    long bytes = 0;
    for (long c : elementCounts) {
      bytes += 4 * c;
    }
    hold(2 * bytes, "reading " + bytes + " bytes of erasable weights (and checking them) does");
    return model.split(parameters, elementCounts);
  }

  private void hold(long bytes, String what) {
    held.add(Memory.uploads().reserve(bytes, "chunk", what, WAIT_MILLIS));
  }

  @Override
  public void close() {
    held.forEach(MemoryPool.Reservation::close);
    held.clear();
  }
}
