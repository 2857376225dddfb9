package dev.lethe.experiment;

import dev.lethe.core.ErasureStep;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherStructure;
import java.util.Locale;

/**
 * One evaluated configuration: how the Fisher is built (kind, block size B, mini-batch m) and,
 * once erases run, which step solves with it ({@code step}; null names the Fisher alone, as the
 * plan lists it). Both steps of a Fisher share its model, its build and its retrained models.
 */
record FisherSetting(CurvatureKind kind, int blockSize, int minibatch, ErasureStep step,
    FisherStructure structure) implements java.io.Serializable {
  /** A block-diagonal Fisher configuration without a step. */
  FisherSetting(CurvatureKind kind, int blockSize, int minibatch) {
    this(kind, blockSize, minibatch, null, FisherStructure.BLOCK_DIAGONAL);
  }

  /** A block-diagonal Fisher configuration with a step. */
  FisherSetting(CurvatureKind kind, int blockSize, int minibatch, ErasureStep step) {
    this(kind, blockSize, minibatch, step, FisherStructure.BLOCK_DIAGONAL);
  }

  /** A KFAC or EKFAC Fisher of {@code kind} (blocks of {@code blockSize} for other parameters). */
  static FisherSetting kronecker(CurvatureKind kind, FisherStructure structure, int blockSize) {
    return new FisherSetting(kind, blockSize, 1, null, structure);
  }

  /** The Fisher and the step: "TRUE B=2048 m=1 LEAVE_OUT". */
  String label() {
    return step == null ? fisherLabel() : fisherLabel() + " " + step;
  }

  /** The Fisher alone: "TRUE B=2048 m=1", or "TRUE EKFAC m=1" (results.csv's fisher column). */
  String fisherLabel() {
    return kind + (kronecker() ? " " + structure : " B=" + blockSize) + " m=" + minibatch;
  }

  boolean kronecker() {
    return structure != null && structure.kronecker();
  }

  /** A model-name-safe form of the Fisher (both steps use the same model). */
  String slug() {
    return kind.name().toLowerCase(Locale.ROOT).replace('_', '-')
        + (kronecker() ? "-" + structure.id() : "-b" + blockSize) + "-m" + minibatch;
  }

  FisherSetting withStep(ErasureStep s) {
    return new FisherSetting(kind, blockSize, minibatch, s, structure);
  }

  /** The same Fisher with the other step (null when this has none). */
  FisherSetting otherStep() {
    return step == null ? null : withStep(step == ErasureStep.LEAVE_OUT
        ? ErasureStep.FULL_FISHER : ErasureStep.LEAVE_OUT);
  }

  /**
   * The steps this Fisher can run: LEAVE_OUT (the default) then FULL_FISHER; only FULL_FISHER
   * for a mini-batch-averaged Fisher (m &gt; 1), which cannot be downdated by sample.
   */
  java.util.List<ErasureStep> steps() {
    return minibatch > 1 ? java.util.List.of(ErasureStep.FULL_FISHER)
        : java.util.List.of(ErasureStep.LEAVE_OUT, ErasureStep.FULL_FISHER);
  }
}
