package dev.lethe.store;

import dev.lethe.core.DenseTensor;
import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;
import dev.lethe.onnx.InputSpec;
import dev.lethe.onnx.ParameterSpec;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.records.ModelRecord;
import dev.lethe.torch.InputDeclaration;
import dev.lethe.torch.TorchArchive;
import dev.lethe.torch.TorchGradients;
import dev.lethe.torch.TorchModule;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The TorchScript inspection of an upload ({@link ModelRegistrar} commits it): the archive's
 * parameters and the erasable list ({@link TorchFiles}), the declared inputs
 * ({@link InputDeclaration}), the module loaded by DJL, a shape probe on one zero sample (the
 * logits' per-sample shape, checked against the loss), and a gradient warm-up on it (every
 * erasable parameter must reach the logits), so that the first Erase is as fast as the next.
 * The stored blob is the archive itself. Refusals are INVALID_ARGUMENT naming the field;
 * nothing is kept when one fails. Stateless apart from the database handle.
 */
final class TorchRegistration {
  private final LetheDb db;

  TorchRegistration(LetheDb db) {
    this.db = db;
  }

  ModelRegistrar.Inspected inspect(ModelConfig spec, byte[] file, ModelRecord existing, long now) {
    TorchArchive archive = TorchFiles.read(file);
    List<String> erasable = TorchFiles.erasable(archive, spec.erasableParameters());
    List<ParameterSpec> params = new ArrayList<>();
    for (String n : erasable) {
      params.add(new ParameterSpec(n, archive.tensor(n).orElseThrow().dims()));
    }
    long[] offsets = ModelRuntime.offsets(params);
    byte[] weights = TorchFiles.weights(archive, erasable);
    ModelRegistrar.checkFinite(weights, offsets, params);
    String graphSha = TorchFiles.graphDigest(archive, erasable, offsets[params.size()] / Float.BYTES);
    if (existing != null) {
      if (!existing.getGraphSha256().equals(graphSha)
          || !existing.getLoss().equals(spec.loss().name())
          || !existing.getLogitsOutput().equals(spec.logitsOutput())) {
        throw LetheException.alreadyExists("model '" + spec.name() + "' exists with a different "
            + "module, frozen weights, loss or logits; a new version needs the identical module "
            + "with new erasable weights only (or use another name)");
      }
      return new ModelRegistrar.Inspected(existing.toBuilder(), null, weights, null);
    }
    TorchModule module = TorchModule.load(file);
    TorchGradients gradients = null;
    try {
      List<InputSpec> inputs = InputDeclaration.parse(module.declaration());
      gradients = new TorchGradients(module, inputs.stream().map(InputSpec::name).toList(),
          erasable, spec.logitsOutput(), spec.loss());
      VersionWeights w = new VersionWeights(0, weights, offsets);
      Samples zero = zeroSample(inputs);
      TorchGradients.Logits probe;
      try {
        probe = gradients.logits(zero, w.parameters(), w);
      } catch (LetheException e) {
        throw e.kind() == LetheException.Kind.INVALID_ARGUMENT && e.getMessage().startsWith("spec.")
            ? e : LetheException.invalid("chunk", "the module does not run on a zero sample of the "
                + "declared inputs " + inputs + ": " + e.getMessage());
      }
      long[] outputDims = probe.perSampleDims();
      ModelRegistrar.checkLossFits(spec.loss(), outputDims);
      int classes = probe.values().length;
      List<String> unreached = gradients.unreached(withLabels(zero, spec.loss(), classes), w.parameters(), w);
      if (!unreached.isEmpty()) {
        throw LetheException.invalid("spec.erasable_parameters", "the logits do not depend on "
            + unreached + "; leave them out of the erasable list");
      }
      ModelRecord.Builder record = ModelRecord.newBuilder()
          .setName(spec.name())
          .setLoss(spec.loss().name())
          .setLogitsOutput(spec.logitsOutput())
          .setLogitsSource(spec.logitsOutput().isEmpty() ? "the module's output" : "")
          .setGraphSha256(graphSha)
          .setSkeletonSize(file.length)
          .setCreatedUnixMs(now)
          .setNextVersion(1);
      params.forEach(p -> record.addParameters(Records.parameter(p)));
      inputs.forEach(in -> record.addInputs(Records.input(in)));
      for (long d : outputDims) {
        record.addOutputDims(d);
      }
      TorchBackend backend = new TorchBackend(record.build(), db);
      backend.adopt(gradients);
      return new ModelRegistrar.Inspected(record, ModelRegistrar.Stored.of(file), weights, backend);
    } catch (RuntimeException e) {
      if (gradients != null) {
        gradients.close();
      } else {
        module.close();
      }
      throw e;
    }
  }

  /** One all-zero sample of the declared inputs (any size: 1). */
  static Samples zeroSample(List<InputSpec> inputs) {
    Map<String, DenseTensor> zeros = new HashMap<>();
    for (InputSpec in : inputs) {
      long[] dims = in.dims().clone();
      long count = 1;
      for (int i = 0; i < dims.length; i++) {
        dims[i] = i == 0 || dims[i] < 0 ? 1 : dims[i];
        count *= dims[i];
      }
      if (count > (1 << 26)) {
        throw LetheException.invalid("chunk", "input '" + in.name() + "' declares "
            + count + " values per sample, more than Lethe takes");
      }
      zeros.put(in.name(), in.isFloat() ? DenseTensor.ofFloats(dims, new float[(int) count])
          : DenseTensor.ofLongs(dims, new long[(int) count]));
    }
    return new Samples(List.of(), zeros, null);
  }

  private static Samples withLabels(Samples s, LossFunction loss, int classes) {
    DenseTensor labels = loss.hasClassLabels() ? DenseTensor.ofLongs(new long[] {1}, new long[1])
        : DenseTensor.ofFloats(new long[] {1, classes}, new float[classes]);
    return new Samples(List.of(), s.inputs(), labels);
  }
}
