package dev.lethe.store;

import dev.lethe.core.LetheException;
import dev.lethe.core.Messages;
import dev.lethe.core.ModelConfig;
import dev.lethe.storage.records.ModelRecord;
import dev.lethe.storage.records.VersionRecord;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * UpdateSpec: which spec fields may be corrected after upload, and the corrected record. Fields
 * that only steer later work (ε, the next build's block size and mini-batch, the CLI's input
 * preprocessing) are always safe. The training facts a Fisher or an erase was computed from
 * (train_size, l2, dampening) are safe only while nothing was: no kept version has a Fisher and
 * no erase was made. The fields that define the graph's gradients never change (delete and
 * upload again). Stateless.
 */
final class SpecCorrection {
  private SpecCorrection() {}

  static final List<String> ALWAYS = List.of("scale", "block_size", "fisher_minibatch",
      "feature_scale", "feature_offset", "feature_min", "feature_max");
  static final List<String> BEFORE_DERIVED = List.of("train_size", "l2", "dampening");
  static final List<String> NEVER = List.of("name", "loss", "logits_output",
      "erasable_parameters", "trained_without_erased");

  /**
   * The record with the named fields of {@code values} set (zeros take their defaults, as at
   * upload).
   *
   * @throws LetheException INVALID_ARGUMENT naming {@code fields} for none, an unknown or a
   *     fixed field, or naming {@code spec.<field>} for a bad value; FAILED_PRECONDITION for a
   *     training fact once a Fisher or an erase depends on it
   */
  static ModelRecord apply(ModelRecord r, ModelConfig values, List<String> fields) {
    if (fields.isEmpty()) {
      throw LetheException.invalid("fields", "name at least one spec field to set: "
          + String.join(", ", ALWAYS) + " (or " + String.join(", ", BEFORE_DERIVED)
          + " before a Fisher or an erase)");
    }
    Set<String> set = new LinkedHashSet<>(fields);
    for (String f : set) {
      if (NEVER.contains(f)) {
        throw LetheException.invalid("fields", "'" + f + "' cannot be changed after upload: "
            + "delete the model (DeleteModel) and upload it again");
      }
      if (!ALWAYS.contains(f) && !BEFORE_DERIVED.contains(f)) {
        throw LetheException.invalid("fields", "'" + Messages.quote(f) + "' is not a ModelSpec "
            + "field that can be set; settable: " + String.join(", ", ALWAYS) + ", "
            + String.join(", ", BEFORE_DERIVED));
      }
      if (BEFORE_DERIVED.contains(f)) {
        String why = derived(r);
        if (why != null) {
          throw LetheException.precondition("fields: '" + f + "' of model '" + r.getName()
              + "' cannot change any more: " + why + "; upload a new version with the right "
              + "spec, or delete the model and upload it again");
        }
      }
    }
    if (set.contains("train_size")) {
      SpecValidator.checkTrainSize("spec.train_size", values.trainSize());
    }
    if (set.contains("scale") && values.scale() != 0) {
      SpecValidator.checkScale("spec.scale", values.scale());
    }
    ModelConfig current = Records.spec(r, 1);
    ModelConfig merged = new ModelConfig(current.name(), current.loss(), current.logitsOutput(),
        current.erasableParameters(), 1,
        set.contains("l2") ? values.l2() : current.l2(),
        set.contains("dampening") ? values.dampening() : current.dampening(),
        set.contains("scale") ? values.scale() : current.scale(),
        set.contains("block_size") ? values.blockSize() : current.blockSize(),
        set.contains("fisher_minibatch") ? values.fisherMinibatch() : current.fisherMinibatch(),
        set.contains("feature_scale") ? values.featureScale() : current.featureScale(),
        set.contains("feature_offset") ? values.featureOffset() : current.featureOffset(),
        set.contains("feature_min") ? values.featureMin() : current.featureMin(),
        set.contains("feature_max") ? values.featureMax() : current.featureMax());
    SpecValidator.check(merged);
    // dampening 0 means "mu": re-derive it when l2 changes and dampening was the default
    if (set.contains("l2") && !set.contains("dampening") && r.getDampening() == defaultOf(r.getL2())) {
      merged = new ModelConfig(merged.name(), merged.loss(), merged.logitsOutput(),
          merged.erasableParameters(), 1, merged.l2(), 0, merged.scale(), merged.blockSize(),
          merged.fisherMinibatch(), merged.featureScale(), merged.featureOffset(),
          merged.featureMin(), merged.featureMax());
    }
    ModelConfig resolved = merged.resolved();
    ModelRecord.Builder b = r.toBuilder()
        .setL2(resolved.l2())
        .setDampening(resolved.dampening())
        .setScale(resolved.scale())
        .setBlockSize(resolved.blockSize())
        .setFisherMinibatch(resolved.fisherMinibatch())
        .setFeatureScale(resolved.featureScale())
        .setFeatureOffset(resolved.featureOffset())
        .setFeatureMin(resolved.featureMin())
        .setFeatureMax(resolved.featureMax());
    if (set.contains("train_size")) {
      for (int i = 0; i < b.getVersionsCount(); i++) {
        if (b.getVersions(i).getVersion() == r.getActiveVersion()) {
          b.setVersions(i, b.getVersions(i).toBuilder().setTrainSize(values.trainSize()));
        }
      }
    }
    return b.build();
  }

  private static double defaultOf(double l2) {
    return l2 > 0 ? l2 : ModelConfig.DEFAULT_DAMPENING;
  }

  /** Why the training facts are fixed now, or null while nothing depends on them. */
  private static String derived(ModelRecord r) {
    for (VersionRecord v : r.getVersionsList()) {
      if (!v.getFisherId().isEmpty()) {
        return "version " + v.getVersion() + " has a Fisher built with them";
      }
      if (v.getEraseLineageCount() > 0 || v.getOrigin().equals("erase")) {
        return "version " + v.getVersion() + " was made by an erase";
      }
    }
    return null;
  }
}
