package dev.lethe.grpc;

import dev.lethe.api.v1.EvaluateResponse;
import dev.lethe.api.v1.FisherInfo;
import dev.lethe.api.v1.GradientsResponse;
import dev.lethe.api.v1.InputInfo;
import dev.lethe.api.v1.Loss;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelSpec;
import dev.lethe.api.v1.VersionInfo;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.eval.Evaluation;
import dev.lethe.onnx.GradientResult;
import dev.lethe.onnx.InputSpec;
import dev.lethe.store.AttachedFisher;
import dev.lethe.store.ModelState;
import dev.lethe.store.VersionState;

/**
 * A model's messages between the API and the domain, both ways: spec ({@link ModelSpec} ⇄
 * {@link ModelConfig}), state with its versions and inputs ({@link ModelInfo} ⇄
 * {@link ModelState}), and the results of Evaluate and Gradients. The server uses one
 * direction, the client (dev.lethe.client) the other; a round trip gives back an equal message.
 * Stateless and thread-safe.
 */
public final class ModelMessages {
  private ModelMessages() {}

  /** A request's spec; an unset or unknown loss becomes null, which registration refuses. */
  static ModelConfig config(ModelSpec s) {
    return new ModelConfig(s.getName(), loss(s.getLoss()), s.getLogitsOutput(),
        s.getErasableParametersList(), s.getTrainSize(), s.getL2(), s.getDampening(),
        s.getScale(), s.getBlockSize(), s.getFisherMinibatch(), s.getFeatureScale(),
        s.getFeatureOffset(), s.getFeatureMin(), s.getFeatureMax(), s.getFrozenPrefix(),
        format(s.getFormat()));
  }

  /** UNSPECIFIED is null (registration detects); an unknown value is refused naming the field. */
  static dev.lethe.core.ModelFormat format(dev.lethe.api.v1.ModelFormat f) {
    return switch (f) {
      case ONNX -> dev.lethe.core.ModelFormat.ONNX;
      case TORCHSCRIPT -> dev.lethe.core.ModelFormat.TORCHSCRIPT;
      case MODEL_FORMAT_UNSPECIFIED -> null;
      case UNRECOGNIZED -> throw dev.lethe.core.LetheException.invalid("spec.format",
          "unknown format value; expected ONNX or TORCHSCRIPT (or unspecified)");
    };
  }

  static dev.lethe.api.v1.ModelFormat format(dev.lethe.core.ModelFormat f) {
    if (f == null) {
      return dev.lethe.api.v1.ModelFormat.MODEL_FORMAT_UNSPECIFIED;
    }
    return switch (f) {
      case ONNX -> dev.lethe.api.v1.ModelFormat.ONNX;
      case TORCHSCRIPT -> dev.lethe.api.v1.ModelFormat.TORCHSCRIPT;
    };
  }

  public static ModelSpec spec(ModelConfig s) {
    return ModelSpec.newBuilder()
        .setName(s.name())
        .setLoss(loss(s.loss()))
        .setLogitsOutput(s.logitsOutput())
        .addAllErasableParameters(s.erasableParameters())
        .setTrainSize(s.trainSize())
        .setL2(s.l2())
        .setDampening(s.dampening())
        .setScale(s.scale())
        .setBlockSize(s.blockSize())
        .setFisherMinibatch(s.fisherMinibatch())
        .setFrozenPrefix(s.frozenPrefix())
        .setFeatureScale(s.featureScale())
        .setFeatureOffset(s.featureOffset())
        .setFeatureMin(s.featureMin())
        .setFeatureMax(s.featureMax())
        .setFormat(format(s.format()))
        .build();
  }

  private static LossFunction loss(Loss l) {
    return switch (l) {
      case SOFTMAX_CROSS_ENTROPY -> LossFunction.SOFTMAX_CROSS_ENTROPY;
      case SIGMOID_BINARY_CROSS_ENTROPY -> LossFunction.SIGMOID_BINARY_CROSS_ENTROPY;
      case MEAN_SQUARED_ERROR -> LossFunction.MEAN_SQUARED_ERROR;
      case LOSS_UNSPECIFIED, UNRECOGNIZED -> null;
    };
  }

  private static Loss loss(LossFunction l) {
    if (l == null) {
      return Loss.LOSS_UNSPECIFIED;
    }
    return switch (l) {
      case SOFTMAX_CROSS_ENTROPY -> Loss.SOFTMAX_CROSS_ENTROPY;
      case SIGMOID_BINARY_CROSS_ENTROPY -> Loss.SIGMOID_BINARY_CROSS_ENTROPY;
      case MEAN_SQUARED_ERROR -> Loss.MEAN_SQUARED_ERROR;
    };
  }

  public static ModelInfo info(ModelState m) {
    ModelInfo.Builder b = ModelInfo.newBuilder()
        .setName(m.name())
        .setActiveVersion(m.activeVersion())
        .setTrainSize(m.trainSize())
        .setParameterCount(m.parameterCount())
        .setFisherReady(m.fisherReady())
        .setSpec(spec(m.spec()))
        .setLogitsSource(m.logitsSource())
        .setRegistrationMs(m.registrationMillis())
        .setFisherGradientRatio(m.fisherGradientRatio())
        .setConvergenceWarning(m.convergenceWarning())
        .setFormat(format(m.spec().format() == null ? dev.lethe.core.ModelFormat.ONNX
            : m.spec().format()))
        .setFormatSource(m.formatSource());
    if (m.fisher() != null) {
      b.setFisher(fisher(m.fisher()));
    }
    for (VersionState v : m.versions()) {
      b.addVersions(VersionInfo.newBuilder()
          .setVersion(v.version())
          .setTrainSize(v.trainSize())
          .setCreatedUnixMs(v.createdUnixMs())
          .setOrigin(v.origin())
          .setSha256(v.sha256())
          .setSizeBytes(v.sizeBytes())
          .setTrainedWithoutErased(v.trainedWithoutErased())
          .setErasedIdsAttested(v.erasedIdsAttested()));
    }
    for (long d : m.outputDims()) {
      b.addOutputDims(d);
    }
    for (InputSpec in : m.inputs()) {
      InputInfo.Builder i = InputInfo.newBuilder().setName(in.name()).setElementType(in.elementType());
      for (long d : in.dims()) {
        i.addDims(d);
      }
      b.addInputs(i);
    }
    return b.build();
  }

  /** The client's side of {@link #info(ModelState)}. */
  public static ModelState state(ModelInfo m) {
    return new ModelState(m.getName(), m.getActiveVersion(),
        m.getVersionsList().stream().map(v -> new VersionState(v.getVersion(), v.getTrainSize(),
            v.getCreatedUnixMs(), v.getOrigin(), v.getSha256(), v.getSizeBytes(),
            v.getTrainedWithoutErased(), v.getErasedIdsAttested())).toList(),
        m.getTrainSize(), m.getParameterCount(), m.getFisherReady(), config(m.getSpec()),
        SampleMessages.longs(m.getOutputDimsList()),
        m.getInputsList().stream().map(i -> new InputSpec(i.getName(),
            i.getElementType().equals("float"), SampleMessages.longs(i.getDimsList()))).toList(),
        m.getLogitsSource(), m.getRegistrationMs(),
        m.getFisherGradientRatio(), m.getConvergenceWarning(),
        m.hasFisher() ? fisher(m.getFisher()) : null, m.getFormatSource());
  }

  static FisherInfo fisher(AttachedFisher f) {
    return FisherInfo.newBuilder()
        .setFisherId(f.fisherId())
        .setFisherKind(FisherMessages.kind(f.kind()))
        .setStructure(f.structure())
        .setSamples(f.samples())
        .setBlockSize(f.blockSize())
        .setBlocks(f.blocks())
        .setVersion(f.version())
        .setBytes(f.bytes())
        .setMethod(FisherMessages.method(f.method()))
        .setDowndated(f.downdated())
        .setMinibatch(f.minibatch())
        .setDampening(f.dampening())
        .setKroneckerLayers(f.kroneckerLayers())
        .build();
  }

  static AttachedFisher fisher(FisherInfo f) {
    return new AttachedFisher(f.getFisherId(),
        FisherMessages.kind("fisher.fisher_kind", f.getFisherKind(), f.getFisherKindValue()),
        f.getStructure(), f.getSamples(), f.getBlockSize(), f.getBlocks(), f.getVersion(),
        f.getBytes(), FisherMessages.method("fisher.method", f.getMethod(), f.getMethodValue()),
        f.getDowndated(), f.getMinibatch(), f.getDampening(), f.getKroneckerLayers());
  }

  static EvaluateResponse evaluateResponse(Evaluation e) {
    EvaluateResponse.Builder b = EvaluateResponse.newBuilder()
        .setMeanLoss(e.meanLoss())
        .setAccuracy(e.accuracy())
        .setVersion(e.version());
    for (float l : e.losses()) {
      b.addLosses(l);
    }
    for (double a : e.auc()) {
      b.addAuc(a);
    }
    return b.build();
  }

  /** The client's side of {@link #evaluateResponse(Evaluation)}. */
  public static Evaluation evaluation(EvaluateResponse r) {
    return new Evaluation(SampleMessages.floats(r.getLossesList()), r.getMeanLoss(),
        r.getAccuracy(), r.getAucList().stream().mapToDouble(Double::doubleValue).toArray(),
        r.getVersion());
  }

  /** Losses and norms; the [N, P] gradients as a tensor when the result has them. */
  static GradientsResponse gradientsResponse(long version, GradientResult r) {
    GradientsResponse.Builder b = GradientsResponse.newBuilder().setVersion(version);
    for (float f : r.norms()) {
      b.addNorms(f);
    }
    for (float f : r.losses()) {
      b.addLosses(f);
    }
    if (r.gradients() != null) {
      b.setGradients(SampleMessages.tensor(
          DenseTensor.ofFloats(new long[] {r.size(), r.parameterCount()}, r.gradients())));
    }
    return b.build();
  }

  /** The client's side of {@link #gradientsResponse}: no logits; gradients null unless sent. */
  public static GradientResult gradients(GradientsResponse r) {
    float[] g = null;
    long p = 0;
    if (r.hasGradients()) {
      DenseTensor t = SampleMessages.tensor("gradients", r.getGradients());
      p = t.dims()[1];
      g = t.floats();
    }
    return new GradientResult(r.getNormsCount(), p, SampleMessages.floats(r.getLossesList()),
        null, g, SampleMessages.floats(r.getNormsList()));
  }
}
