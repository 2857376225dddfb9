package dev.lethe.store;

import dev.lethe.core.LetheException;
import dev.lethe.core.Messages;
import dev.lethe.core.ModelConfig;
import java.util.regex.Pattern;

/** Checks a model spec's fields before any work; messages name the field. */
public final class SpecValidator {
  /** Names become directory names in the export layout, so they are restricted. */
  public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

  private SpecValidator() {}

  public static void checkName(String field, String name) {
    if (name == null || name.isEmpty()) {
      throw LetheException.invalid(field, "required");
    }
    if (!NAME.matcher(name).matches()) {
      throw LetheException.invalid(field,
          "'" + Messages.quote(name) + "' must be 1-128 characters of [A-Za-z0-9._-], starting with a letter or digit");
    }
  }

  public static void check(ModelConfig spec) {
    checkName("spec.name", spec.name());
    if (spec.loss() == null) {
      throw LetheException.invalid("spec.loss",
          "required: SOFTMAX_CROSS_ENTROPY, SIGMOID_BINARY_CROSS_ENTROPY or MEAN_SQUARED_ERROR");
    }
    checkTrainSize("spec.train_size", spec.trainSize());
    nonNegative("spec.l2", spec.l2());
    nonNegative("spec.dampening", spec.dampening());
    nonNegative("spec.scale", spec.scale());
    if (spec.blockSize() < 0) {
      throw LetheException.invalid("spec.block_size", "must be >= 0, got " + spec.blockSize());
    }
    if (spec.fisherMinibatch() < 0) {
      throw LetheException.invalid("spec.fisher_minibatch",
          "must be >= 0, got " + spec.fisherMinibatch());
    }
    checkFeatures("spec.", spec);
    for (String p : spec.erasableParameters()) {
      if (p.isEmpty()) {
        throw LetheException.invalid("spec.erasable_parameters", "empty name");
      }
    }
  }

  /**
   * n, the samples the weights were trained on: required (the SSSE step divides by n − k and a
   * Fisher build sends n samples by default), so a spec cannot be half-made.
   */
  public static void checkTrainSize(String field, long trainSize) {
    if (trainSize < 1) {
      throw LetheException.invalid(field, "required: the number of samples the weights were "
          + "trained on (>= 1), got " + trainSize);
    }
  }

  /** The input preprocessing and the declared feature range; {@code prefix} is "spec.". */
  public static void checkFeatures(String prefix, ModelConfig spec) {
    finite(prefix + "feature_scale", spec.featureScale());
    finite(prefix + "feature_offset", spec.featureOffset());
    finite(prefix + "feature_min", spec.featureMin());
    finite(prefix + "feature_max", spec.featureMax());
    if (spec.hasFeatureRange() && !(spec.featureMin() < spec.featureMax())) {
      throw LetheException.invalid(prefix + "feature_max", "must exceed feature_min ("
          + spec.featureMin() + "), got " + spec.featureMax());
    }
  }

  private static void finite(String field, double v) {
    if (!Double.isFinite(v)) {
      throw LetheException.invalid(field, "must be a finite number, got " + v);
    }
  }

  /** ε of the SSSE step as set after upload: a finite number &gt; 0 (0 means no default here). */
  public static void checkScale(String field, double scale) {
    if (!Double.isFinite(scale) || scale <= 0) {
      throw LetheException.invalid(field, "must be a finite number > 0, got " + scale);
    }
  }

  private static void nonNegative(String field, double v) {
    if (!Double.isFinite(v) || v < 0) {
      throw LetheException.invalid(field, "must be a finite number >= 0, got " + v);
    }
  }
}
