package dev.lethe.store;

import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import dev.lethe.fisher.ModelView;
import dev.lethe.onnx.SampleValidator;
import dev.lethe.storage.records.ModelRecord;
import dev.lethe.storage.records.VersionRecord;
import java.util.List;

/**
 * The store's {@link ModelView}: one kept version of a model, resolved against the record that
 * was current when the view was made, over the model's runtime (its format's backend and the
 * weights). A version dropped by retention while a view of it is in use fails the next call
 * NOT_FOUND. Thread-safe (the runtime is).
 */
final class VersionView implements ModelView {
  private final ModelEntry entry;
  private final ModelRecord record;
  private final VersionRecord version;
  private final LossFunction loss;
  private final long[] outputDims;

  VersionView(ModelEntry entry, ModelRecord record, VersionRecord version) {
    this.entry = entry;
    this.record = record;
    this.version = version;
    this.loss = LossFunction.valueOf(record.getLoss());
    this.outputDims = record.getOutputDimsList().stream().mapToLong(Long::longValue).toArray();
  }

  long version() {
    return version.getVersion();
  }

  VersionRecord record() {
    return version;
  }

  @Override
  public LossFunction loss() {
    return loss;
  }

  @Override
  public int classes() {
    long c = 1;
    for (long d : outputDims) {
      c *= d;
    }
    return (int) c;
  }

  @Override
  public List<long[]> parameterShapes() {
    return entry.runtime.parameters().stream().map(p -> p.dims().clone()).toList();
  }

  @Override
  public long parameterCount() {
    return ModelReads.parameterCount(record);
  }

  @Override
  public Samples check(Samples samples, boolean needLabels) {
    SampleValidator.check(entry.runtime.inputs(), loss, outputDims, samples, needLabels);
    // inputs sharing a symbolic dimension (a sequence length) agree; the engine checks it again
    // if it is built later
    entry.runtime.checkSizes(samples);
    return samples;
  }

  @Override
  public float[] gradients(Samples checked) {
    return entry.runtime.gradients(checked, weights(), loss, record.getL2(), true).gradients();
  }

  @Override
  public float[] logits(Samples checked) {
    return entry.runtime.logits(checked, weights());
  }

  @Override
  public float[] cotangentGradients(Samples checked, float[] cotangent) {
    return entry.runtime.cotangentGradients(checked, weights(), loss, record.getL2(), cotangent)
        .gradients();
  }

  @Override
  public List<dev.lethe.fisher.KroneckerLayer> kroneckerLayers() {
    dev.lethe.onnx.GradientGraph g = graph();
    return g == null ? List.of() : g.layers().stream().map(l -> new dev.lethe.fisher.KroneckerLayer(
        l.weight(), l.bias(), l.out(), l.in(), l.outMajor(), l.alpha(), l.beta(), l.positions())).toList();
  }

  @Override
  public int[] otherParameters() {
    dev.lethe.onnx.GradientGraph g = graph();
    return g == null ? ModelView.super.otherParameters() : g.otherParameters();
  }

  @Override
  public dev.lethe.fisher.LayerInputs layerInputs(Samples checked, float[] cotangent) {
    if (kroneckerLayers().isEmpty()) {
      return ModelView.super.layerInputs(checked, cotangent);
    }
    dev.lethe.onnx.LayerFactors f = entry.runtime.layerFactors(checked, weights(), loss,
        record.getL2(), cotangent);
    return new dev.lethe.fisher.LayerInputs(f.samples(), f.inputs(), f.cotangents(), f.others(),
        f.otherColumns());
  }

  private dev.lethe.onnx.GradientGraph graph() {
    return entry.runtime.gradientGraph(weights(), loss, record.getL2());
  }

  @Override
  public double meanLoss(Samples checked, float[] weights) {
    return evaluate(checked, weights).meanLoss();
  }

  @Override
  public double meanLoss(Samples checked, java.nio.ByteBuffer weights) {
    VersionWeights w = VersionWeights.wrap(-1, weights, entry.runtime.parameterOffsets());
    return ModelReads.evaluate(entry, record, version, checked, w).meanLoss();
  }

  @Override
  public dev.lethe.eval.Evaluation evaluate(Samples checked, float[] weights) {
    VersionWeights w = weights == null ? weights()
        : VersionWeights.of(-1, weights, entry.runtime.parameterOffsets());
    return ModelReads.evaluate(entry, record, version, checked, w);
  }

  /** The version's weights (cached by the runtime while most recently used). */
  @Override
  public float[] l2Term() {
    float[] theta = weights().toArray();
    float mu = (float) record.getL2();
    for (int j = 0; j < theta.length; j++) {
      theta[j] *= mu;
    }
    return theta;
  }

  @Override
  public float[] parameters() {
    return weights().toArray();
  }

  VersionWeights weights() {
    return entry.runtime.weights(version.getVersion());
  }
}
