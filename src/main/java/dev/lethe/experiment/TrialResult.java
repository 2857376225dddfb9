package dev.lethe.experiment;

/**
 * The measurements of one removal under one Fisher setting. Curves are over the evaluation's ε
 * grid; the rest is at the ε the erase ran with (ε* from the calibration split; for calibration
 * removals ε = 1, the erase that measured the step).
 *
 * @param accuracy forget, retain and test accuracy of θ̂ (index 0..2)
 * @param accuracyStar the same for θ*
 * @param accuracyRetrained the same for θ*₋S
 * @param membership loss-threshold membership-inference AUC of θ*, θ̂ and θ*₋S on S against
 *     unseen test samples
 * @param eraseMs the Erase RPC's round trip as the client saw it
 * @param retrainSeconds retraining from scratch without S
 */
record TrialResult(
    FisherSetting setting,
    Removal removal,
    double[] gammaCurve,
    double[] distanceCurve,
    double epsilon,
    double gamma,
    double distance,
    double[] accuracy,
    double[] accuracyStar,
    double[] accuracyRetrained,
    double[] membership,
    double eraseMs,
    double retrainSeconds) {

  int k() {
    return removal.forget().length;
  }
}
