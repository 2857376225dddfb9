package dev.lethe.experiment;

import dev.lethe.core.ErasureStep;
import dev.lethe.fisher.CurvatureKind;
import java.util.Locale;

/**
 * One evaluated configuration: how the Fisher is built (kind, block size B, mini-batch m) and,
 * once erases run, which step solves with it ({@code step}; null names the Fisher alone, as the
 * plan lists it). Both steps of a Fisher share its model, its build and its retrained models.
 */
record FisherSetting(CurvatureKind kind, int blockSize, int minibatch, ErasureStep step)
    implements java.io.Serializable {
  /** A Fisher configuration without a step. */
  FisherSetting(CurvatureKind kind, int blockSize, int minibatch) {
    this(kind, blockSize, minibatch, null);
  }

  /** The Fisher and the step: "TRUE B=2048 m=1 LEAVE_OUT". */
  String label() {
    return step == null ? fisherLabel() : fisherLabel() + " " + step;
  }

  /** The Fisher alone: "TRUE B=2048 m=1" (results.csv's fisher column). */
  String fisherLabel() {
    return kind + " B=" + blockSize + " m=" + minibatch;
  }

  /** A model-name-safe form of the Fisher (both steps use the same model). */
  String slug() {
    return kind.name().toLowerCase(Locale.ROOT).replace('_', '-') + "-b" + blockSize
        + "-m" + minibatch;
  }

  FisherSetting withStep(ErasureStep s) {
    return new FisherSetting(kind, blockSize, minibatch, s);
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
