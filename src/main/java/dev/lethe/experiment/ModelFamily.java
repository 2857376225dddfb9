package dev.lethe.experiment;

import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;

/**
 * A model family the evaluation trains, registers with the sidecar and measures: its training
 * data (rows 0..n−1), its unseen test data, a from-scratch trainer (the gold standard and SISA's
 * shard trainer) and predictions of any weights θ, flattened in the order Lethe flattens the
 * spec's erasable parameters. Implementations are immutable after construction; {@link #train}
 * may use the family's own thread pool.
 */
interface ModelFamily {
  /** "convex", "mlp" or "mlp-early": a prefix of model names and of the report's figure files. */
  String key();

  /** A sentence describing data, model and training for the report. */
  String describe();

  int trainSize();

  int testSize();

  /** Outputs per sample (attributes or classes). */
  int outputs();

  /** Weights trained from scratch on the given training rows (deterministic). */
  double[] train(int[] rows);

  /** A line on how well {@code theta} solved its training problem (gradient norm, losses). */
  String trainingNote(double[] theta, int[] rows);

  byte[] onnx(double[] theta, String graphName);

  /** The registration spec (train_size = {@link #trainSize()}, ε left at 1). */
  ModelConfig spec(String name, int blockSize);

  /** Element counts of the spec's erasable parameters, in spec order. */
  long[] parameterSizes();

  /** Training rows as a batch the registered model accepts, ids unique per row. */
  Samples trainBatch(int[] rows);

  /** Test rows as a batch the registered model accepts (held-out samples for CalibrateScale). */
  Samples testBatch(int[] rows);

  /** Predicted probabilities [rows, outputs] of θ on training (test = false) or test rows. */
  double[] probabilities(double[] theta, boolean test, int[] rows);

  /** Accuracy of predictions: top-1 (single label) or mean per-attribute accuracy at 0.5. */
  double accuracy(double[] probabilities, boolean test, int[] rows);

  /** Per-sample data loss of predictions (cross-entropy, summed over attributes). */
  double[] losses(double[] probabilities, boolean test, int[] rows);

  /**
   * Unseen test rows to compare the forget rows' losses with in membership inference, as many
   * as there are forget rows and drawn like them (same class, or sharing the attribute all of
   * them have), so the attack sees membership rather than a shift of class.
   */
  int[] nonMembers(int[] forget, java.util.Random random);

  /**
   * The vector whose mean absolute difference is γ's D on the forget rows: per-attribute ROC-AUC
   * (multi-attribute) or the predicted probabilities themselves (single label).
   */
  double[] signature(double[] probabilities, int[] forgetRows);
}
