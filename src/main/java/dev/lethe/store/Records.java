package dev.lethe.store;

import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.onnx.InputSpec;
import dev.lethe.onnx.ParameterSpec;
import dev.lethe.storage.records.InputRecord;
import dev.lethe.storage.records.ModelRecord;
import dev.lethe.storage.records.ParameterRecord;
import dev.lethe.storage.records.VersionRecord;
import java.util.List;

/** Conversions between stored records and domain types. Stateless. */
final class Records {
  private Records() {}

  static ModelConfig spec(ModelRecord r, long trainSize) {
    return new ModelConfig(
        r.getName(),
        LossFunction.valueOf(r.getLoss()),
        r.getLogitsOutput(),
        r.getParametersList().stream().map(ParameterRecord::getName).toList(),
        trainSize,
        r.getL2(),
        r.getDampening(),
        r.getScale(),
        r.getBlockSize(),
        r.getFisherMinibatch(),
        r.getFeatureScale() != 0 ? r.getFeatureScale() : 1.0,
        r.getFeatureOffset(),
        r.getFeatureMin(),
        r.getFeatureMax(),
        false,
        // ONNX stays unset (UNSPECIFIED = ONNX), so an ONNX model's spec reads as before
        format(r) == dev.lethe.core.ModelFormat.ONNX ? null : format(r));
  }

  /** The record's format ("" = ONNX: records made before formats existed). */
  static dev.lethe.core.ModelFormat format(ModelRecord r) {
    return r.getFormat().isEmpty() ? dev.lethe.core.ModelFormat.ONNX
        : dev.lethe.core.ModelFormat.valueOf(r.getFormat());
  }

  /**
   * The export layout of the record's format: ONNX's, or libtorch's with the declared inputs and
   * the logits (batch first) as the signature Triton needs.
   */
  static ExportLayout exportLayout(ModelRecord r) {
    if (format(r) == dev.lethe.core.ModelFormat.ONNX) {
      return ExportLayout.onnx();
    }
    long[] out = new long[r.getOutputDimsCount() + 1];
    out[0] = -1;
    for (int i = 0; i < r.getOutputDimsCount(); i++) {
      out[i + 1] = r.getOutputDims(i);
    }
    return ExportLayout.torchScript(inputs(r).stream().map(ExportLayout.Tensor::of).toList(),
        List.of(new ExportLayout.Tensor(true, out)));
  }

  static List<InputSpec> inputs(ModelRecord r) {
    return r.getInputsList().stream()
        .map(i -> new InputSpec(i.getName(), i.getElementType().equals("float"),
            i.getDimsList().stream().mapToLong(Long::longValue).toArray()))
        .toList();
  }

  static InputRecord input(InputSpec in) {
    InputRecord.Builder b = InputRecord.newBuilder().setName(in.name()).setElementType(in.elementType());
    for (long d : in.dims()) {
      b.addDims(d);
    }
    return b.build();
  }

  static List<ParameterSpec> parameters(ModelRecord r) {
    return r.getParametersList().stream()
        .map(p -> new ParameterSpec(p.getName(), p.getDimsList().stream().mapToLong(Long::longValue).toArray()))
        .toList();
  }

  static ParameterRecord parameter(ParameterSpec p) {
    ParameterRecord.Builder b = ParameterRecord.newBuilder().setName(p.name());
    for (long d : p.dims()) {
      b.addDims(d);
    }
    return b.build();
  }

  static VersionRecord version(ModelRecord r, long version) {
    for (VersionRecord v : r.getVersionsList()) {
      if (v.getVersion() == version) {
        return v;
      }
    }
    return null;
  }

  static VersionState versionInfo(VersionRecord v) {
    return new VersionState(v.getVersion(), v.getTrainSize(), v.getCreatedUnixMs(), v.getOrigin(),
        v.getSha256(), v.getSizeBytes(), v.getTrainedWithoutErased(), v.getErasedIdsAttested());
  }

  /** The state of {@code r}, with its active version's Fisher described from its header. */
  static ModelState info(ModelRecord r, long parameterCount, dev.lethe.fisher.FisherStore fishers) {
    VersionRecord active = version(r, r.getActiveVersion());
    AttachedFisher fisher = null;
    if (active != null && !active.getFisherId().isEmpty()) {
      fisher = fishers.header(r.getName(), active.getFisherId())
          .map(h -> AttachedFisher.of(active.getFisherId(), h)).orElse(null);
    }
    return info(r, parameterCount, fisher);
  }

  static ModelState info(ModelRecord r, long parameterCount, AttachedFisher fisher) {
    VersionRecord active = version(r, r.getActiveVersion());
    long trainSize = active == null ? 0 : active.getTrainSize();
    dev.lethe.fisher.Convergence convergence = active == null || active.getFisherId().isEmpty()
        ? dev.lethe.fisher.Convergence.UNKNOWN
        : new dev.lethe.fisher.Convergence(active.getFisherMeanGradientNorm(),
            active.getFisherGradientRms());
    return new ModelState(
        r.getName(),
        r.getActiveVersion(),
        r.getVersionsList().stream().map(Records::versionInfo).toList(),
        trainSize,
        parameterCount,
        fisher != null,
        spec(r, trainSize),
        r.getOutputDimsList().stream().mapToLong(Long::longValue).toArray(),
        inputs(r),
        r.getLogitsSource(),
        0,
        convergence.ratio(),
        convergence.warning(),
        fisher,
        r.getFormatSource());
  }
}
