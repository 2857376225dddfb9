package dev.lethe.eval;

/**
 * Quality of a model version on a batch.
 *
 * @param losses per-sample data loss (no L2 term), [N]
 * @param meanLoss mean of {@code losses}
 * @param accuracy softmax: top-1 accuracy; sigmoid: mean per-attribute accuracy at threshold
 *     0.5; NaN for mean squared error
 * @param auc per attribute (sigmoid) or class (softmax, one-vs-rest) ROC-AUC; NaN for an
 *     attribute or class whose labels in the batch are all equal; empty for mean squared error
 * @param version the version evaluated
 */
public record Evaluation(float[] losses, double meanLoss, double accuracy, double[] auc, long version) {}
