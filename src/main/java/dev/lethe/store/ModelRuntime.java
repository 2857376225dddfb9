package dev.lethe.store;

import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelFormat;
import dev.lethe.core.Samples;
import dev.lethe.onnx.GradientResult;
import dev.lethe.onnx.InputSpec;
import dev.lethe.onnx.ParameterSpec;
import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.StorageException;
import dev.lethe.storage.records.ModelRecord;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The per-model machinery shared by every version: the model's structure (inputs, parameters),
 * its format's {@link ModelBackend} (forward, gradients, file composition) and a one-entry cache
 * of version weights. The graph never changes for a model, so one runtime serves all its
 * versions; only the backend knows the format.
 *
 * <p>Thread-safe. Owned by {@link ModelStore}, which closes it (and with it the backend).
 */
final class ModelRuntime implements AutoCloseable {
  private final String name;
  private final LetheDb db;
  private final List<InputSpec> inputs;
  private final List<ParameterSpec> parameters;
  private final long[] parameterOffsets;
  private final ModelBackend backend;
  /** Versions whose weights are kept in memory (direct buffers, 4 bytes per parameter each). */
  static final int CACHED_VERSIONS = 2;

  private final AtomicReference<List<VersionWeights>> cached = new AtomicReference<>(List.of());

  /** A runtime over {@code backend} (which it now owns). */
  ModelRuntime(ModelRecord record, LetheDb db, ModelBackend backend) {
    this.name = record.getName();
    this.db = db;
    this.inputs = Records.inputs(record);
    this.parameters = Records.parameters(record);
    this.parameterOffsets = offsets(parameters);
    this.backend = backend;
  }

  /** Byte offsets of each parameter in a version's weights (spec order), and the total last. */
  static long[] offsets(List<ParameterSpec> parameters) {
    long[] offsets = new long[parameters.size() + 1];
    for (int p = 0; p < parameters.size(); p++) {
      offsets[p + 1] = offsets[p] + parameters.get(p).elementCount() * Float.BYTES;
    }
    return offsets;
  }

  List<InputSpec> inputs() {
    return inputs;
  }

  List<ParameterSpec> parameters() {
    return parameters;
  }

  long[] parameterOffsets() {
    return parameterOffsets;
  }

  ModelFormat format() {
    return backend.format();
  }

  /** True when the gradient machinery is built (at registration, or by the warm-up at start). */
  boolean gradientsBuilt() {
    return backend.warmed();
  }

  /** As {@link ModelBackend#checkSizes}. */
  void checkSizes(Samples samples) {
    backend.checkSizes(samples);
  }

  /** Logits [N, C] of checked samples at {@code w}. */
  float[] logits(Samples checked, VersionWeights w) {
    return backend.logits(checked, w);
  }

  /** Per-sample losses and gradients (norms only unless {@code full}) at {@code w}. */
  GradientResult gradients(Samples checked, VersionWeights w, LossFunction loss, double l2,
      boolean full) {
    return backend.gradients(checked, w, loss, l2, full);
  }

  /** Per-sample gradients of ⟨v, z⟩ at {@code w}. */
  GradientResult cotangentGradients(Samples checked, VersionWeights w, LossFunction loss,
      double l2, float[] cotangent) {
    return backend.cotangentGradients(checked, w, loss, l2, cotangent);
  }

  /** The gradient graph at {@code l2}, or null for a format without one (TorchScript). */
  dev.lethe.onnx.GradientGraph gradientGraph(VersionWeights w, LossFunction loss, double l2) {
    return backend.gradientGraph(w, loss, l2);
  }

  /** Layer inputs and cotangents at {@code w} (ONNX only). */
  dev.lethe.onnx.LayerFactors layerFactors(Samples checked, VersionWeights w, LossFunction loss,
      double l2, float[] cotangent) {
    return backend.layerFactors(checked, w, loss, l2, cotangent);
  }

  /** Builds the gradient machinery of {@code version}'s model for {@code l2} now. */
  void warm(long version, LossFunction loss, double l2) {
    backend.warm(weights(version), loss, l2);
  }

  /**
   * The weights of a version, the {@link #CACHED_VERSIONS} most recently used kept: the active
   * version and, while erases use the leave-out step, the version the Fisher was built at (the
   * erased samples' rows are made there), so neither is read back per erase.
   */
  VersionWeights weights(long version) {
    for (VersionWeights w : cached.get()) {
      if (w.version() == version) {
        cache(w);
        return w;
      }
    }
    byte[] data = db.readBlob(Family.WEIGHTS, Keys.version(name, version));
    if (data == null) {
      throw LetheException.notFound("model " + name + " has no weights for version " + version);
    }
    if (data.length != parameterOffsets[parameters.size()]) {
      throw new StorageException("model " + name + " version " + version + ": stored weights have "
          + data.length + " bytes, expected " + parameterOffsets[parameters.size()]);
    }
    VersionWeights w = new VersionWeights(version, data, parameterOffsets);
    cache(w);
    return w;
  }

  /** Puts weights first in the cache (freshly written, or just used). */
  void cache(VersionWeights w) {
    cache(w, -1);
  }

  /**
   * Puts an erase's new weights first and keeps {@code keep} (the version its Fisher was built
   * at, which the next leave-out step reads) if cached, before the other, less recent ones.
   */
  void cache(VersionWeights w, long keep) {
    cached.updateAndGet(list -> {
      List<VersionWeights> next = new ArrayList<>(CACHED_VERSIONS);
      next.add(w);
      list.stream().filter(v -> v.version() == keep && keep != w.version()).forEach(next::add);
      for (VersionWeights v : list) {
        if (next.size() < CACHED_VERSIONS && v.version() != w.version() && v.version() != keep) {
          next.add(v);
        }
      }
      return List.copyOf(next);
    });
  }

  /** Streams the file of a version: the stored file with the version's weights. */
  InputStream open(long version) {
    return compose(weights(version));
  }

  /** Streams the file the given weights make (committed or not). */
  InputStream compose(VersionWeights w) {
    return backend.compose(w);
  }

  @Override
  public void close() {
    backend.close();
  }
}
