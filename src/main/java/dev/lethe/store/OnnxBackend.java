package dev.lethe.store;

import ai.onnxruntime.OrtEnvironment;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelFormat;
import dev.lethe.core.Samples;
import dev.lethe.onnx.ForwardSession;
import dev.lethe.onnx.GradientEngine;
import dev.lethe.onnx.GradientGraph;
import dev.lethe.onnx.GradientResult;
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

/**
 * The ONNX format's {@link ModelBackend}: the forward ONNX Runtime session (created on first
 * use) and the {@link GradientEngine} of Lethe's emitted backward graph (rebuilt when the spec's
 * l2 changes), both with the erasable parameters fed as inputs; a version's file is the stored
 * skeleton with the weights spliced in ({@link WeightSplicer}).
 *
 * <p>Thread-safe; owns its sessions and closes them in {@link #close()}.
 */
final class OnnxBackend implements ModelBackend {
  private final String name;
  private final LetheDb db;
  private final OrtEnvironment env;
  private final String logits;
  private final List<ParameterSpec> parameters;
  private final long[] parameterOffsets;
  private final long[] spliceOffsets;
  private final int[] spliceParameters;
  private ForwardSession forward;
  private GradientEngine gradients;
  private double gradientsL2 = Double.NaN;
  private boolean closed;

  OnnxBackend(ModelRecord record, LetheDb db, OrtEnvironment env, long[] parameterOffsets) {
    this.name = record.getName();
    this.db = db;
    this.env = env;
    this.logits = record.getLogitsOutput();
    this.parameters = Records.parameters(record);
    this.parameterOffsets = parameterOffsets;
    this.spliceOffsets = record.getSplicesList().stream().mapToLong(Splice::getOffset).toArray();
    this.spliceParameters = record.getSplicesList().stream().mapToInt(Splice::getParameter).toArray();
  }

  @Override
  public ModelFormat format() {
    return ModelFormat.ONNX;
  }

  /**
   * Adopts the forward session and the gradient engine (for {@code l2}) created at registration,
   * so that the first call does not pay for them.
   */
  synchronized void adopt(ForwardSession session, GradientEngine engine, double l2) {
    if (closed || forward != null) {
      session.close();
    } else {
      forward = session;
    }
    if (closed || gradients != null) {
      engine.close();
    } else {
      gradients = engine;
      gradientsL2 = l2;
    }
  }

  @Override
  public float[] logits(Samples checked, VersionWeights w) {
    return forward(w).logits(checked, checked.size(), w.parameters()).values();
  }

  @Override
  public GradientResult gradients(Samples checked, VersionWeights w, LossFunction loss, double l2,
      boolean full) {
    GradientEngine engine = engine(w, loss, l2);
    return full ? engine.compute(checked, w.parameters()) : engine.norms(checked, w.parameters());
  }

  @Override
  public GradientResult cotangentGradients(Samples checked, VersionWeights w, LossFunction loss,
      double l2, float[] cotangent) {
    return engine(w, loss, l2).computeWithCotangent(checked, w.parameters(), cotangent);
  }

  @Override
  public GradientGraph gradientGraph(VersionWeights w, LossFunction loss, double l2) {
    return engine(w, loss, l2).graph();
  }

  @Override
  public dev.lethe.onnx.LayerFactors layerFactors(Samples checked, VersionWeights w, LossFunction loss,
      double l2, float[] cotangent) {
    return engine(w, loss, l2).factors(checked, w.parameters(), cotangent);
  }

  @Override
  public void warm(VersionWeights w, LossFunction loss, double l2) {
    engine(w, loss, l2);
  }

  @Override
  public synchronized boolean warmed() {
    return gradients != null;
  }

  @Override
  public void checkSizes(Samples samples) {
    GradientEngine engine;
    synchronized (this) {
      engine = gradients;
    }
    if (engine != null) {
      engine.checkSizes(samples);
    }
  }

  /** The forward session, created from the file {@code w} makes on first use. */
  private synchronized ForwardSession forward(VersionWeights w) {
    ensureOpen();
    if (forward == null) {
      // The version's file goes to disk and is scanned there: ORT reads the weights from it.
      try (StagedUpload file = stageFile(w); UploadScan scan = UploadScan.open(file.file(),
          GraphLimits.unbounded())) {
        ModelGraph graph = ModelGraph.inspect(scan.model(), logits,
            parameters.stream().map(ParameterSpec::name).toList(), false);
        forward = ForwardSession.create(env, graph);
      }
    }
    return forward;
  }

  /**
   * The gradient engine for the model's graph with L2 coefficient {@code l2}, built from the file
   * {@code w} makes on first use (and again if the spec's l2 changed).
   */
  private synchronized GradientEngine engine(VersionWeights w, LossFunction loss, double l2) {
    ensureOpen();
    if (gradients == null || gradientsL2 != l2) {
      // Scanned on disk as in forward(); the scan audits it (a model stored before external
      // data was refused must not reach ONNX Runtime either).
      try (StagedUpload file = stageFile(w); UploadScan scan = UploadScan.open(file.file(),
          GraphLimits.unbounded())) {
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

  /** The file {@code w} makes, written to {@code <data-dir>/tmp} for a session; the caller closes it. */
  private StagedUpload stageFile(VersionWeights w) {
    try (InputStream in = compose(w)) {
      return StagedUpload.copyOf(in, db.directory().resolve("tmp"), Long.MAX_VALUE);
    } catch (IOException e) {
      throw new StorageException("reading model " + name + " version " + w.version(), e);
    }
  }

  /** The ONNX file: the stored skeleton with w's weights spliced in. */
  @Override
  public InputStream compose(VersionWeights w) {
    InputStream skeleton = db.openBlob(Family.GRAPHS, Keys.modelPrefix(name));
    if (skeleton == null) {
      throw new StorageException("model " + name + ": graph skeleton is missing from the store");
    }
    return WeightSplicer.compose(skeleton, spliceOffsets, spliceParameters, w.bytes(), parameterOffsets);
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("model " + name + " runtime is closed");
    }
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
