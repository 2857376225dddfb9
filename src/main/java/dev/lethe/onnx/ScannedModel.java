package dev.lethe.onnx;

import ai.onnx.proto.OnnxMl;
import dev.lethe.core.LetheException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An ONNX file on disk after {@link ModelScan}: its structure on the heap (audited, large
 * initializers pointing at the file as external data) and where every top-level initializer's
 * payload lies in the file. The file must stay in place while this is used (sessions created
 * from the structure read it).
 *
 * <p>Immutable; thread-safe. Owns no resource (it opens the file per call).
 */
public final class ScannedModel {
  private final ModelScan.Layout layout;
  private final OnnxMl.ModelProto model;

  ScannedModel(ModelScan.Layout layout, OnnxMl.ModelProto model) {
    this.layout = layout;
    this.model = model;
  }

  /** The structure: the model without its cut payloads, which it reads from {@link #file()}. */
  public OnnxMl.ModelProto model() {
    return model;
  }

  public Path file() {
    return layout.file();
  }

  /** The file's size in bytes. */
  public long size() {
    return layout.size();
  }

  /** Bytes of the structure as serialised (what parsing held, without the external references). */
  public long structureBytes() {
    return layout.structureBytes();
  }

  /** Bytes of initializer payloads left in the file. */
  public long cutBytes() {
    return layout.cutBytes();
  }

  /**
   * The split of the file into a skeleton (the file without the parameters' payloads) and the
   * parameters' bytes, as {@link WeightSplicer#split} makes of the same bytes in memory. Reads
   * only the parameters' payloads.
   *
   * @param parameters initializer names in spec order
   * @param elementCounts their element counts
   * @throws LetheException INVALID_ARGUMENT (field spec.erasable_parameters) as
   *     {@link WeightSplicer#split}
   */
  public FileSplit split(List<String> parameters, long[] elementCounts) {
    Map<String, Integer> index = new HashMap<>();
    for (int i = 0; i < parameters.size(); i++) {
      index.put(parameters.get(i), i);
    }
    List<long[]> found = new ArrayList<>();
    for (ModelScan.Payload p : layout.initializers()) {
      Integer i = p.name() == null ? null : index.get(p.name());
      if (i == null) {
        continue;
      }
      if (p.external()) {
        throw LetheException.invalid("spec.erasable_parameters",
            "initializer '" + p.name() + "' uses external data; upload a self-contained ONNX file");
      }
      if (p.offset() >= 0) {
        found.add(new long[] {p.offset(), p.length(), i});
      }
    }
    long[] offsets = WeightSplicer.locate(found, parameters, elementCounts);
    byte[] weights = new byte[(int) offsets[parameters.size()]];
    long[] spliceOffsets = new long[found.size()];
    int[] spliceParameters = new int[found.size()];
    long[] cutFrom = new long[found.size()];
    long removed = 0;
    try (FileChannel ch = FileChannel.open(layout.file(), StandardOpenOption.READ)) {
      FileWire wire = new FileWire(ch, layout.size());
      for (int s = 0; s < found.size(); s++) {
        long[] f = found.get(s);
        int p = (int) f[2];
        wire.read(f[0], weights, (int) offsets[p], (int) f[1]);
        cutFrom[s] = f[0];
        spliceOffsets[s] = f[0] - removed;
        spliceParameters[s] = p;
        removed += f[1];
      }
    } catch (IOException e) {
      throw new UncheckedIOException("reading the model file " + layout.file(), e);
    }
    return new FileSplit(layout.file(), layout.size(), cutFrom, spliceOffsets, spliceParameters,
        weights, offsets);
  }
}
