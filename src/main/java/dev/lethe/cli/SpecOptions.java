package dev.lethe.cli;

import dev.lethe.core.ModelConfig;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The spec fields put-model sets and update-spec corrects (other than train_size), each with the
 * proto field name it sets. Unset options leave the field at its default (put-model) or
 * unchanged (update-spec).
 */
final class SpecOptions {
  @Option(names = "--l2", paramLabel = "MU", description = "spec.l2: mu, the L2 weight decay used in training (PyTorch's weight_decay).")
  Double l2;

  @Option(names = "--dampening", paramLabel = "LAMBDA", description = "spec.dampening: lambda of the Fisher (default mu, or 1e-4).")
  Double dampening;

  @Option(names = "--epsilon", paramLabel = "E", description = "spec.scale: epsilon of the SSSE step (default 1; see `lethe calibrate`).")
  Double epsilon;

  @Option(names = "--block-size", paramLabel = "B", description = "spec.block_size: Fisher block size (default 1024).")
  Integer blockSize;

  @Option(names = "--fisher-minibatch", paramLabel = "M", description = "spec.fisher_minibatch: gradients averaged per Fisher outer product (default 1).")
  Integer fisherMinibatch;

  @Option(names = "--feature-scale", paramLabel = "S", description = "spec.feature_scale: data commands send each raw feature x as x * S + offset (default 1; 0.00392156862745098 = 1/255).")
  Double featureScale;

  @Option(names = "--feature-offset", paramLabel = "O", description = "spec.feature_offset: added after the scale (default 0).")
  Double featureOffset;

  @Option(names = "--feature-range", paramLabel = "MIN,MAX", split = ",",
      description = "spec.feature_min/feature_max: the range of the preprocessed features in training; the CLI warns when data lie far outside it.")
  List<Double> featureRange;

  /** {@code base} with every given option set. */
  ModelConfig apply(ModelConfig base) {
    if (featureRange != null && featureRange.size() != 2) {
      throw new IllegalArgumentException("--feature-range takes MIN,MAX, got " + featureRange);
    }
    return new ModelConfig(base.name(), base.loss(), base.logitsOutput(),
        base.erasableParameters(), base.trainSize(),
        l2 != null ? l2 : base.l2(),
        dampening != null ? dampening : base.dampening(),
        epsilon != null ? epsilon : base.scale(),
        blockSize != null ? blockSize : base.blockSize(),
        fisherMinibatch != null ? fisherMinibatch : base.fisherMinibatch(),
        featureScale != null ? featureScale : base.featureScale(),
        featureOffset != null ? featureOffset : base.featureOffset(),
        featureRange != null ? featureRange.get(0) : base.featureMin(),
        featureRange != null ? featureRange.get(1) : base.featureMax(), base.frozenPrefix())
        .withFormat(base.format());
  }

  /** The proto field names of the options given. */
  List<String> fields() {
    List<String> f = new ArrayList<>();
    if (l2 != null) {
      f.add("l2");
    }
    if (dampening != null) {
      f.add("dampening");
    }
    if (epsilon != null) {
      f.add("scale");
    }
    if (blockSize != null) {
      f.add("block_size");
    }
    if (fisherMinibatch != null) {
      f.add("fisher_minibatch");
    }
    if (featureScale != null) {
      f.add("feature_scale");
    }
    if (featureOffset != null) {
      f.add("feature_offset");
    }
    if (featureRange != null) {
      f.add("feature_min");
      f.add("feature_max");
    }
    return f;
  }
}
