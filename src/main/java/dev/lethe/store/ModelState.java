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
 * @param fisher the active version's Fisher, or null when it has none
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
    AttachedFisher fisher) {

  /** A state without a Fisher description (fisherReady as given). */
  public ModelState(String name, long activeVersion, List<VersionState> versions, long trainSize,
      long parameterCount, boolean fisherReady, ModelConfig spec, long[] outputDims,
      List<InputSpec> inputs) {
    this(name, activeVersion, versions, trainSize, parameterCount, fisherReady, spec, outputDims,
        inputs, null);
  }
}
