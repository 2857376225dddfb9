package dev.lethe.experiment;

/**
 * The measurements of one removal under one Fisher setting and step. Curves are over the
 * evaluation's ε grid; the rest is at the ε the erase ran with (ε* from the calibration split;
 * for calibration removals ε = 1, the erase that measured the step), except the {@code *AtOne}
 * figures, which are θ̂ at ε = 1 (no calibration) whatever ε the erase ran with.
 *
 * @param accuracy forget, retain and test accuracy of θ̂ (index 0..2)
 * @param accuracyAtOne the same for θ̂ at ε = 1
 * @param accuracyStar the same for θ*
 * @param accuracyRetrained the same for θ*₋S
 * @param membership loss-threshold membership-inference AUC of θ*, θ̂ and θ*₋S on S against
 *     unseen test samples
 * @param eraseMs the Erase RPC's round trip as the client saw it
 * @param retrainSeconds retraining from scratch without S
 * @param heldOut θ̂ at the ε CalibrateScale chose on the calibration split against held-out
 *     samples, without retraining (issue 20); null for calibration removals
 * @param forgetLoss S's mean data loss under θ*, θ̂ at ε = 1, θ̂ at the ε the erase ran with and
 *     θ*₋S (index 0..3)
 */
record TrialResult(
    FisherSetting setting,
    Removal removal,
    double[] gammaCurve,
    double[] distanceCurve,
    double epsilon,
    double gamma,
    double distance,
    double gammaAtOne,
    double distanceAtOne,
    double[] accuracy,
    double[] accuracyAtOne,
    double[] accuracyStar,
    double[] accuracyRetrained,
    double[] membership,
    double eraseMs,
    double retrainSeconds,
    AtEpsilon heldOut,
    double[] forgetLoss) implements java.io.Serializable {

  int k() {
    return removal.forget().length;
  }
}
