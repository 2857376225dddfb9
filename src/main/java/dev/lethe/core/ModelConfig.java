package dev.lethe.core;

import java.util.List;

/**
 * How a model was trained and how Lethe treats it (the domain form of the API's ModelSpec).
 * Zero numbers mean "default"; {@link #resolved()} fills them in. An empty erasable list means
 * "every float initializer consumed by a differentiable op", resolved at registration.
 *
 * @param trainSize n, the number of samples the weights were trained on
 * @param l2 mu, the L2 weight decay of the training loss (mu/2 |theta|^2 per sample)
 * @param dampening lambda of the Fisher; default mu when mu &gt; 0, else {@link #DEFAULT_DAMPENING}
 * @param scale epsilon of the SSSE step; default 1
 * @param blockSize Fisher block size B; default {@link #DEFAULT_BLOCK_SIZE}
 * @param fisherMinibatch per-sample gradients averaged per Fisher outer product; default 1
 * @param featureScale input preprocessing: a raw data feature x is sent as
 *     x · featureScale + featureOffset (applied by the CLI's data commands); default 1
 * @param featureOffset see featureScale; default 0
 * @param featureMin lower end of the preprocessed features' training range (with featureMax;
 *     both 0 = not declared)
 * @param featureMax upper end of that range
 * @param frozenPrefix with an empty erasable list: float initializers the default leaves out
 *     (weights of ops Lethe cannot differentiate, upstream of every erasable one) stay frozen on
 *     purpose; without it registration refuses such a model
 * @param format the file's format; null = not declared (ONNX, unless registration detects a
 *     TorchScript archive). A registered model's spec always names it.
 */
public record ModelConfig(
    String name,
    LossFunction loss,
    String logitsOutput,
    List<String> erasableParameters,
    long trainSize,
    double l2,
    double dampening,
    double scale,
    int blockSize,
    int fisherMinibatch,
    double featureScale,
    double featureOffset,
    double featureMin,
    double featureMax,
    boolean frozenPrefix,
    ModelFormat format) {

  public static final double DEFAULT_DAMPENING = 1e-4;
  public static final int DEFAULT_BLOCK_SIZE = 1024;

  public ModelConfig {
    erasableParameters = List.copyOf(erasableParameters);
    logitsOutput = logitsOutput == null ? "" : logitsOutput;
  }

  /** A spec without a declared format. */
  public ModelConfig(String name, LossFunction loss, String logitsOutput,
      List<String> erasableParameters, long trainSize, double l2, double dampening, double scale,
      int blockSize, int fisherMinibatch, double featureScale, double featureOffset,
      double featureMin, double featureMax, boolean frozenPrefix) {
    this(name, loss, logitsOutput, erasableParameters, trainSize, l2, dampening, scale, blockSize,
        fisherMinibatch, featureScale, featureOffset, featureMin, featureMax, frozenPrefix, null);
  }

  /** A spec without input preprocessing and without {@code frozenPrefix}. */
  public ModelConfig(String name, LossFunction loss, String logitsOutput,
      List<String> erasableParameters, long trainSize, double l2, double dampening, double scale,
      int blockSize, int fisherMinibatch) {
    this(name, loss, logitsOutput, erasableParameters, trainSize, l2, dampening, scale, blockSize,
        fisherMinibatch, 0, 0, 0, 0, false);
  }

  /** A spec without input preprocessing. */
  public ModelConfig(String name, LossFunction loss, String logitsOutput,
      List<String> erasableParameters, long trainSize, double l2, double dampening, double scale,
      int blockSize, int fisherMinibatch, boolean frozenPrefix) {
    this(name, loss, logitsOutput, erasableParameters, trainSize, l2, dampening, scale, blockSize,
        fisherMinibatch, 0, 0, 0, 0, frozenPrefix);
  }

  /** A spec without {@code frozenPrefix}. */
  public ModelConfig(String name, LossFunction loss, String logitsOutput,
      List<String> erasableParameters, long trainSize, double l2, double dampening, double scale,
      int blockSize, int fisherMinibatch, double featureScale, double featureOffset,
      double featureMin, double featureMax) {
    this(name, loss, logitsOutput, erasableParameters, trainSize, l2, dampening, scale, blockSize,
        fisherMinibatch, featureScale, featureOffset, featureMin, featureMax, false);
  }

  /** This spec with every zero number replaced by its default. */
  public ModelConfig resolved() {
    return new ModelConfig(
        name,
        loss,
        logitsOutput,
        erasableParameters,
        trainSize,
        l2,
        dampening > 0 ? dampening : (l2 > 0 ? l2 : DEFAULT_DAMPENING),
        scale > 0 ? scale : 1.0,
        blockSize > 0 ? blockSize : DEFAULT_BLOCK_SIZE,
        fisherMinibatch > 0 ? fisherMinibatch : 1,
        featureScale != 0 ? featureScale : 1.0,
        featureOffset,
        featureMin,
        featureMax,
        frozenPrefix,
        format);
  }

  /** True when the spec declares the preprocessed features' range. */
  public boolean hasFeatureRange() {
    return featureMin != 0 || featureMax != 0;
  }

  public ModelConfig withLogitsOutput(String logits) {
    return new ModelConfig(name, loss, logits, erasableParameters, trainSize, l2, dampening, scale,
        blockSize, fisherMinibatch, featureScale, featureOffset, featureMin, featureMax,
        frozenPrefix, format);
  }

  public ModelConfig withTrainSize(long n) {
    return new ModelConfig(name, loss, logitsOutput, erasableParameters, n, l2, dampening, scale,
        blockSize, fisherMinibatch, featureScale, featureOffset, featureMin, featureMax,
        frozenPrefix, format);
  }

  /** This spec with the input preprocessing and declared range given. */
  public ModelConfig withFeatures(double scale, double offset, double min, double max) {
    return new ModelConfig(name, loss, logitsOutput, erasableParameters, trainSize, l2, dampening,
        this.scale, blockSize, fisherMinibatch, scale, offset, min, max, frozenPrefix, format);
  }

  /** This spec with the format given (null = not declared). */
  public ModelConfig withFormat(ModelFormat f) {
    return new ModelConfig(name, loss, logitsOutput, erasableParameters, trainSize, l2, dampening,
        scale, blockSize, fisherMinibatch, featureScale, featureOffset, featureMin, featureMax,
        frozenPrefix, f);
  }
}
