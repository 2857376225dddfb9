package dev.lethe.store;

import dev.lethe.core.ModelConfig;
import dev.lethe.onnx.InputSpec;
import java.util.List;

/**
 * A model's public state at one instant (immutable).
 *
 * @param versions kept versions, oldest first
 * @param trainSize of the active version
 * @param parameterCount number of erasable parameters (float entries)
 * @param spec the spec with defaults resolved and the erasable list filled in
 * @param outputDims per-sample logits shape
 * @param inputs the data inputs a batch must provide
 * @param logitsSource how the logits value was chosen ("" when the spec named it)
 * @param registrationMillis the registration's wall time (PutModel's answer only; else 0)
 * @param fisherGradientRatio of the active version's Fisher build: |∇L_D(θ)| / the typical
 *     per-sample gradient (0 = unknown; see {@link dev.lethe.fisher.Convergence})
 * @param convergenceWarning "" or why erasures at ε = 1 will overshoot
 * @param fisher the active version's Fisher, or null when it has none
 * @param formatSource how {@code spec.format()} was chosen: "" when the upload's spec named it,
 *     else "detected: ..." or "default: ..."
 */
public record ModelState(
    String name,
    long activeVersion,
    List<VersionState> versions,
    long trainSize,
    long parameterCount,
    boolean fisherReady,
    ModelConfig spec,
    long[] outputDims,
    List<InputSpec> inputs,
    String logitsSource,
    long registrationMillis,
    double fisherGradientRatio,
    String convergenceWarning,
    AttachedFisher fisher,
    String formatSource) {

  /** A state whose format the spec named. */
  public ModelState(String name, long activeVersion, List<VersionState> versions, long trainSize,
      long parameterCount, boolean fisherReady, ModelConfig spec, long[] outputDims,
      List<InputSpec> inputs, String logitsSource, long registrationMillis,
      double fisherGradientRatio, String convergenceWarning, AttachedFisher fisher) {
    this(name, activeVersion, versions, trainSize, parameterCount, fisherReady, spec, outputDims,
        inputs, logitsSource, registrationMillis, fisherGradientRatio, convergenceWarning, fisher,
        "");
  }

  /** A state without a registration time, a convergence measurement or a Fisher description. */
  public ModelState(String name, long activeVersion, List<VersionState> versions, long trainSize,
      long parameterCount, boolean fisherReady, ModelConfig spec, long[] outputDims,
      List<InputSpec> inputs) {
    this(name, activeVersion, versions, trainSize, parameterCount, fisherReady, spec, outputDims,
        inputs, "", 0, 0, "", null);
  }

  /** This state with the registration's wall time. */
  public ModelState withRegistrationMillis(long millis) {
    return new ModelState(name, activeVersion, versions, trainSize, parameterCount, fisherReady,
        spec, outputDims, inputs, logitsSource, millis, fisherGradientRatio, convergenceWarning,
        fisher, formatSource);
  }
}
