package dev.lethe.spark;

import dev.lethe.fisher.BlockLayout;
import dev.lethe.fisher.BuildPlan;
import dev.lethe.fisher.FisherStructure;

/**
 * {@code --structure auto} resolved on the driver by the sidecar's own rule ({@link
 * BuildPlan#auto}): block-diagonal while its stored size fits the storage budget (or when the
 * model has no dense layers to factor, or λ = 0), else EKFAC; prints what it picked. Stateless.
 */
final class StructureChoice {
  private StructureChoice() {}

  static String resolve(ExecutorModel model, BlockLayout layout, long budget, int blockSize) {
    String cannot = model.kroneckerLayers().isEmpty() ? "the model has no dense layers to factor"
        : !(model.state().spec().resolved().dampening() > 0) ? "the eigenvalues need dampening > 0"
        : "";
    FisherStructure s = BuildPlan.auto(layout, budget, cannot);
    long bytes = BuildPlan.blockDiagonalBytes(layout);
    System.err.println("FisherJob: --structure auto: the block-diagonal Fisher (block size "
        + blockSize + ") takes " + bytes + " bytes, " + (bytes <= budget ? "within" : "over")
        + " the storage budget of " + budget + (cannot.isEmpty() ? "" : " (" + cannot + ")")
        + ": " + s.id());
    return s == FisherStructure.EKFAC ? "ekfac" : "block_diagonal";
  }
}
