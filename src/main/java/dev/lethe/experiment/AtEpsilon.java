package dev.lethe.experiment;

/**
 * One erase measured at one ε other than the one it ran with (θ̂(ε) = θ* + ε·Δ, from the same
 * Δ): the held-out-calibrated ε of issue 20. Immutable.
 *
 * @param epsilon the ε
 * @param gamma γ on S at that ε
 * @param distance normalised distance to θ*₋S at that ε
 * @param accuracy forget, retain and test accuracy of θ̂(ε)
 * @param membership loss-threshold membership-inference AUC of θ̂(ε) on S against unseen samples
 * @param forgetMeanLoss S's mean data loss under θ̂(ε) (no L2 term)
 */
record AtEpsilon(double epsilon, double gamma, double distance, double[] accuracy,
    double membership, double forgetMeanLoss) implements java.io.Serializable {}
