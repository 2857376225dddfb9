package dev.lethe.store;

import ai.onnxruntime.OrtEnvironment;
import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import dev.lethe.onnx.ForwardSession;
import dev.lethe.onnx.GradientEngine;
import dev.lethe.onnx.GradientGraph;
import dev.lethe.onnx.InputSpec;
import dev.lethe.onnx.GraphLimits;
import dev.lethe.onnx.ModelGraph;
import dev.lethe.onnx.ParameterSpec;
import dev.lethe.onnx.WeightSplicer;
import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.StorageException;
import dev.lethe.storage.records.ModelRecord;
import dev.lethe.storage.records.Splice;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The per-model machinery shared by every version: the graph's structure (inputs, parameters,
 * splice table), the forward ONNX Runtime session (created on first use) and a one-entry cache of
 * version weights. The graph never changes for a model, so one runtime serves all its versions.
 *
 * <p>Thread-safe. Owned by {@link ModelStore}, which closes it.
 */
final class ModelRuntime implements AutoCloseable {
  private final String name;
  private final LetheDb db;
  private final OrtEnvironment env;
  private final String logits;
  private final List<InputSpec> inputs;
  private final List<ParameterSpec> parameters;
  private final long[] parameterOffsets;
  private final long[] spliceOffsets;
  private final int[] spliceParameters;
  private final AtomicReference<VersionWeights> cached = new AtomicReference<>();
  private ForwardSession forward;
  private GradientEngine gradients;
  private double gradientsL2 = Double.NaN;
  private boolean closed;

  ModelRuntime(ModelRecord record, LetheDb db, OrtEnvironment env) {
    this.name = record.getName();
    this.db = db;
    this.env = env;
    this.logits = record.getLogitsOutput();
    this.inputs = Records.inputs(record);
    this.parameters = Records.parameters(record);
    this.parameterOffsets = new long[parameters.size() + 1];
    for (int p = 0; p < parameters.size(); p++) {
      parameterOffsets[p + 1] = parameterOffsets[p] + parameters.get(p).elementCount() * Float.BYTES;
    }
    this.spliceOffsets = record.getSplicesList().stream().mapToLong(Splice::getOffset).toArray();
    this.spliceParameters = record.getSplicesList().stream().mapToInt(Splice::getParameter).toArray();
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

  /** Adopts an already created session (at registration, where it was used for the probe). */
  synchronized void adoptForward(ForwardSession session) {
    if (forward != null) {
      session.close();
    } else {
      forward = session;
    }
  }

  /** Adopts a gradient engine built at registration for {@code l2}. */
  synchronized void adoptGradients(GradientEngine engine, double l2) {
    if (closed || gradients != null) {
      engine.close();
    } else {
      gradients = engine;
      gradientsL2 = l2;
    }
  }

  /** True when the gradient engine is built (at registration, or by the warm-up at start). */
  synchronized boolean gradientsBuilt() {
    return gradients != null;
  }

  /** The forward session, created from the file of {@code version} on first use. */
  synchronized ForwardSession forward(long version) {
    if (closed) {
      throw new IllegalStateException("model " + name + " runtime is closed");
    }
    if (forward == null) {
      // The version's file goes to disk and is scanned there: ORT reads the weights from it.
      try (StagedUpload file = stageFile(version);
          UploadScan scan = UploadScan.open(file.file(), GraphLimits.unbounded())) {
        ModelGraph graph = ModelGraph.inspect(scan.model(), logits,
            parameters.stream().map(ParameterSpec::name).toList(), false);
        forward = ForwardSession.create(env, graph);
      }
    }
    return forward;
  }

  /**
   * The gradient engine for the model's graph with L2 coefficient {@code l2}, built from the file
   * of {@code version} on first use (and again if the spec's l2 changed).
   */
  synchronized GradientEngine gradients(long version, LossFunction loss, double l2) {
    if (closed) {
      throw new IllegalStateException("model " + name + " runtime is closed");
    }
    if (gradients == null || gradientsL2 != l2) {
      // Scanned on disk as in forward(); the scan audits it (a model stored before external
      // data was refused must not reach ONNX Runtime either).
      try (StagedUpload file = stageFile(version);
          UploadScan scan = UploadScan.open(file.file(), GraphLimits.unbounded())) {
        GradientGraph graph = GradientGraph.build(scan.model().model(), logits, loss,
            parameters.stream().map(ParameterSpec::name).toList(), l2);
        if (gradients != null) {
          gradients.close();
        }
        gradients = new GradientEngine(graph);
        gradientsL2 = l2;
      }
    }
    return gradients;
  }

  /** The weights of a version (cached while it stays the most recently used). */
  VersionWeights weights(long version) {
    VersionWeights w = cached.get();
    if (w != null && w.version() == version) {
      return w;
    }
    byte[] data = db.readBlob(Family.WEIGHTS, Keys.version(name, version));
    if (data == null) {
      throw LetheException.notFound("model " + name + " has no weights for version " + version);
    }
    if (data.length != parameterOffsets[parameters.size()]) {
      throw new StorageException("model " + name + " version " + version + ": stored weights have "
          + data.length + " bytes, expected " + parameterOffsets[parameters.size()]);
    }
    w = new VersionWeights(version, data, parameterOffsets);
    cached.set(w);
    return w;
  }

  /** Puts freshly written weights in the cache. */
  void cache(VersionWeights w) {
    cached.set(w);
  }

  /** The file of a version, written to {@code <data-dir>/tmp} for a session; the caller closes it. */
  private StagedUpload stageFile(long version) {
    try (InputStream in = open(version)) {
      return StagedUpload.copyOf(in, db.directory().resolve("tmp"), Long.MAX_VALUE);
    } catch (IOException e) {
      throw new StorageException("reading model " + name + " version " + version, e);
    }
  }

  /** Streams the ONNX file of a version: the stored skeleton with the version's weights. */
  InputStream open(long version) {
    return compose(weights(version));
  }

  /** Streams the ONNX file the given weights make (committed or not). */
  InputStream compose(VersionWeights w) {
    InputStream skeleton = db.openBlob(Family.GRAPHS, Keys.modelPrefix(name));
    if (skeleton == null) {
      throw new StorageException("model " + name + ": graph skeleton is missing from the store");
    }
    return WeightSplicer.compose(skeleton, spliceOffsets, spliceParameters, w.bytes(), parameterOffsets);
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (forward != null) {
      forward.close();
      forward = null;
    }
    if (gradients != null) {
      gradients.close();
      gradients = null;
    }
  }
}
