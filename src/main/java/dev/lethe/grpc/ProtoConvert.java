package dev.lethe.grpc;

import dev.lethe.api.v1.EvaluateResponse;
import dev.lethe.api.v1.GradientsResponse;
import dev.lethe.onnx.GradientResult;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.VersionInfo;
import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;
import dev.lethe.core.DenseTensor;
import dev.lethe.eval.Evaluation;
import java.util.LinkedHashMap;
import java.util.Map;

/** Translates between the public API's messages and domain types. Stateless. */
final class ProtoConvert {
  private ProtoConvert() {}

  static DenseTensor tensor(String field, dev.lethe.api.v1.Tensor t) {
    long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
    for (long d : dims) {
      if (d < 0) {
        throw LetheException.invalid(field, "negative dimension in dims " + t.getDimsList());
      }
    }
    boolean hasFloats = t.getFloatDataCount() > 0;
    boolean hasLongs = t.getInt64DataCount() > 0;
    if (hasFloats && hasLongs) {
      throw LetheException.invalid(field, "set float_data or int64_data, not both");
    }
    if (hasLongs) {
      return DenseTensor.ofLongs(dims, t.getInt64DataList().stream().mapToLong(Long::longValue).toArray());
    }
    float[] values = new float[t.getFloatDataCount()];
    for (int i = 0; i < values.length; i++) {
      values[i] = t.getFloatData(i);
    }
    return DenseTensor.ofFloats(dims, values);
  }

  static dev.lethe.api.v1.Tensor tensor(DenseTensor t) {
    dev.lethe.api.v1.Tensor.Builder b = dev.lethe.api.v1.Tensor.newBuilder();
    for (long d : t.dims()) {
      b.addDims(d);
    }
    if (t.isFloat()) {
      for (float f : t.floats()) {
        b.addFloatData(f);
      }
    } else {
      for (long v : t.longs()) {
        b.addInt64Data(v);
      }
    }
    return b.build();
  }

  /** A batch; labels are null when the request has none. */
  static Samples batch(dev.lethe.api.v1.SampleBatch s) {
    if (s.getInputsCount() == 0) {
      throw LetheException.invalid("samples.inputs", "required: at least one input tensor");
    }
    Map<String, DenseTensor> inputs = new LinkedHashMap<>();
    s.getInputsMap().forEach((name, t) -> inputs.put(name, tensor("samples.inputs[" + name + "]", t)));
    DenseTensor labels = s.hasLabels() ? tensor("samples.labels", s.getLabels()) : null;
    return new Samples(s.getIdsList(), inputs, labels);
  }

  static dev.lethe.api.v1.SampleBatch batch(Samples b) {
    dev.lethe.api.v1.SampleBatch.Builder out = dev.lethe.api.v1.SampleBatch.newBuilder()
        .addAllIds(b.ids());
    b.inputs().forEach((name, t) -> out.putInputs(name, tensor(t)));
    if (b.labels() != null) {
      out.setLabels(tensor(b.labels()));
    }
    return out.build();
  }

  static ModelConfig spec(dev.lethe.api.v1.ModelSpec s) {
    LossFunction loss = switch (s.getLoss()) {
      case SOFTMAX_CROSS_ENTROPY -> LossFunction.SOFTMAX_CROSS_ENTROPY;
      case SIGMOID_BINARY_CROSS_ENTROPY -> LossFunction.SIGMOID_BINARY_CROSS_ENTROPY;
      case MEAN_SQUARED_ERROR -> LossFunction.MEAN_SQUARED_ERROR;
      default -> null;
    };
    return new ModelConfig(s.getName(), loss, s.getLogitsOutput(), s.getErasableParametersList(),
        s.getTrainSize(), s.getL2(), s.getDampening(), s.getScale(), s.getBlockSize(),
        s.getFisherMinibatch());
  }

  static dev.lethe.api.v1.ModelSpec spec(ModelConfig s) {
    return dev.lethe.api.v1.ModelSpec.newBuilder()
        .setName(s.name())
        .setLoss(dev.lethe.api.v1.Loss.valueOf(s.loss().name()))
        .setLogitsOutput(s.logitsOutput())
        .addAllErasableParameters(s.erasableParameters())
        .setTrainSize(s.trainSize())
        .setL2(s.l2())
        .setDampening(s.dampening())
        .setScale(s.scale())
        .setBlockSize(s.blockSize())
        .setFisherMinibatch(s.fisherMinibatch())
        .build();
  }

  static ModelInfo info(dev.lethe.store.ModelState m) {
    ModelInfo.Builder b = ModelInfo.newBuilder()
        .setName(m.name())
        .setActiveVersion(m.activeVersion())
        .setTrainSize(m.trainSize())
        .setParameterCount(m.parameterCount())
        .setFisherReady(m.fisherReady())
        .setSpec(spec(m.spec()));
    for (dev.lethe.store.VersionState v : m.versions()) {
      b.addVersions(VersionInfo.newBuilder()
          .setVersion(v.version())
          .setTrainSize(v.trainSize())
          .setCreatedUnixMs(v.createdUnixMs())
          .setOrigin(v.origin())
          .setSha256(v.sha256())
          .setSizeBytes(v.sizeBytes()));
    }
    for (long d : m.outputDims()) {
      b.addOutputDims(d);
    }
    for (dev.lethe.onnx.InputSpec in : m.inputs()) {
      dev.lethe.api.v1.InputInfo.Builder i = dev.lethe.api.v1.InputInfo.newBuilder()
          .setName(in.name()).setElementType(in.elementType());
      for (long d : in.dims()) {
        i.addDims(d);
      }
      b.addInputs(i);
    }
    return b.build();
  }

  static EvaluateResponse evaluation(Evaluation e) {
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

  static GradientsResponse gradients(long version, GradientResult r) {
    GradientsResponse.Builder b = GradientsResponse.newBuilder().setVersion(version);
    for (float f : r.norms()) {
      b.addNorms(f);
    }
    for (float f : r.losses()) {
      b.addLosses(f);
    }
    if (r.gradients() != null) {
      dev.lethe.api.v1.Tensor.Builder t = dev.lethe.api.v1.Tensor.newBuilder()
          .addDims(r.size()).addDims(r.parameterCount());
      float[] g = r.gradients();
      for (float f : g) {
        t.addFloatData(f);
      }
      b.setGradients(t);
    }
    return b.build();
  }

  static dev.lethe.erase.EraseCommand erase(dev.lethe.api.v1.EraseRequest r) {
    if (!r.hasSamples()) {
      throw LetheException.invalid("samples", "required");
    }
    return new dev.lethe.erase.EraseCommand(r.getName(), r.getRequestId(), batch(r.getSamples()),
        r.getDryRun(), r.getExpectedVersion(), r.getDowndateFisher());
  }

  static dev.lethe.api.v1.EraseResponse erase(dev.lethe.core.EraseOutcome o) {
    return dev.lethe.api.v1.EraseResponse.newBuilder()
        .setVersion(o.version())
        .setErased(o.erased())
        .addAllAlreadyErased(o.alreadyErased())
        .setUpdateNorm(o.updateNorm())
        .setLossBefore(o.lossBefore())
        .setLossAfter(o.lossAfter())
        .setTimings(dev.lethe.api.v1.EraseTimings.newBuilder()
            .setGradientsMs(o.timings().gradientsMs())
            .setSolveMs(o.timings().solveMs())
            .setStoreMs(o.timings().storeMs())
            .setSwapMs(o.timings().swapMs()))
        .build();
  }

  static dev.lethe.fisher.FisherRequest fisherRequest(dev.lethe.api.v1.FisherOptions o) {
    dev.lethe.fisher.CurvatureKind kind = switch (o.getFisherKind()) {
      case FISHER_KIND_UNSPECIFIED -> null;   // the default, resolved by the build
      case EMPIRICAL -> dev.lethe.fisher.CurvatureKind.EMPIRICAL;
      case TRUE -> dev.lethe.fisher.CurvatureKind.TRUE;
      case MONTE_CARLO -> dev.lethe.fisher.CurvatureKind.MONTE_CARLO;
      default -> throw LetheException.invalid("options.fisher_kind", "unknown value " + o.getFisherKindValue());
    };
    dev.lethe.fisher.InversionMethod method = switch (o.getMethod()) {
      case FISHER_METHOD_UNSPECIFIED, GRAM -> dev.lethe.fisher.InversionMethod.GRAM;
      case SHERMAN_MORRISON -> dev.lethe.fisher.InversionMethod.SHERMAN_MORRISON;
      default -> throw LetheException.invalid("options.method", "unknown value " + o.getMethodValue());
    };
    return new dev.lethe.fisher.FisherRequest(o.getName(), kind, method, o.getBlockSize(),
        o.getMinibatch(), o.getMonteCarloDraws(), o.getSeed(), o.getVersion(), o.getSamples());
  }

  /** The client's side of {@link #fisherRequest(dev.lethe.api.v1.FisherOptions)}. */
  static dev.lethe.api.v1.FisherOptions fisherOptions(dev.lethe.fisher.FisherRequest r) {
    return dev.lethe.api.v1.FisherOptions.newBuilder()
        .setName(r.name())
        .setFisherKind(r.kind() == null ? dev.lethe.api.v1.FisherKind.FISHER_KIND_UNSPECIFIED
            : dev.lethe.api.v1.FisherKind.valueOf(r.kind().name()))
        .setMethod(dev.lethe.api.v1.FisherMethod.valueOf(r.method().name()))
        .setBlockSize(r.blockSize())
        .setMinibatch(r.minibatch())
        .setMonteCarloDraws(r.draws())
        .setSeed(r.seed())
        .setVersion(r.version())
        .setSamples(r.samples())
        .build();
  }

  /** The client's side of the progress BuildFisherReceiver sends. */
  static dev.lethe.fisher.FisherProgress progress(dev.lethe.api.v1.BuildFisherProgress p) {
    dev.lethe.fisher.FisherProgress.Summary summary = null;
    if (p.hasSummary()) {
      dev.lethe.api.v1.FisherSummary s = p.getSummary();
      summary = new dev.lethe.fisher.FisherProgress.Summary(s.getFisherId(), s.getVersion(),
          s.getSamples(), s.getBlocks(), s.getBytes(), s.getFisherKind().name(),
          s.getMethod() == dev.lethe.api.v1.FisherMethod.SHERMAN_MORRISON
              ? dev.lethe.fisher.InversionMethod.SHERMAN_MORRISON.id()
              : dev.lethe.fisher.InversionMethod.GRAM.id(),
          s.getBuildSeconds(), s.getPasses());
    }
    return new dev.lethe.fisher.FisherProgress(p.getSamplesSeen(), p.getBlocksDone(),
        p.getBlocksTotal(), p.getDone(), summary);
  }

  /** The client's side of {@link #erase(dev.lethe.core.EraseOutcome)}. */
  static dev.lethe.core.EraseOutcome outcome(dev.lethe.api.v1.EraseResponse r) {
    dev.lethe.api.v1.EraseTimings t = r.getTimings();
    return new dev.lethe.core.EraseOutcome(r.getVersion(), r.getErased(),
        java.util.List.copyOf(r.getAlreadyErasedList()), r.getUpdateNorm(), r.getLossBefore(),
        r.getLossAfter(), new dev.lethe.core.EraseOutcome.Timings(t.getGradientsMs(),
            t.getSolveMs(), t.getStoreMs(), t.getSwapMs()));
  }
}
