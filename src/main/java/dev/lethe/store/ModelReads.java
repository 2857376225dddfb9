package dev.lethe.store;

import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import dev.lethe.eval.Evaluation;
import dev.lethe.eval.Metrics;
import dev.lethe.onnx.GradientResult;
import dev.lethe.storage.records.ModelRecord;
import dev.lethe.storage.records.VersionRecord;
import java.util.function.BiFunction;

/**
 * The read side of {@link ModelStore}: resolving a kept version against a published record and
 * running inference, gradients and evaluations on it. Readers take one record reference and
 * never block on, or see half of, a change. Stateless; thread-safe.
 */
final class ModelReads {
  private ModelReads() {}

  /**
   * Runs {@code body} on a kept version (0 = active) of the model's current record. A change may
   * drop that version's weights (retention) between reading the record and reading them: when
   * the body fails NOT_FOUND and the record has changed meanwhile, the version is resolved again
   * against the new record (0: the new active version; a dropped one: NOT_FOUND from the record).
   */
  static <T> T atVersion(ModelEntry e, long version,
      BiFunction<ModelRecord, VersionRecord, T> body) {
    while (true) {
      ModelRecord r = e.record;
      VersionRecord v = keptVersion(r, version);
      try {
        return body.apply(r, v);
      } catch (LetheException ex) {
        if (ex.kind() != LetheException.Kind.NOT_FOUND || e.record == r) {
          throw ex;
        }
      }
    }
  }

  /**
   * The kept version {@code version} (0 = active) of a record.
   *
   * @throws LetheException INVALID_ARGUMENT for a negative version, NOT_FOUND for one not kept
   */
  static VersionRecord keptVersion(ModelRecord r, long version) {
    if (version < 0) {
      throw LetheException.invalid("version", "must be >= 0 (0 = active), got " + version);
    }
    long wanted = version == 0 ? r.getActiveVersion() : version;
    VersionRecord v = Records.version(r, wanted);
    if (v == null) {
      throw LetheException.notFound("model '" + r.getName() + "' has no version " + wanted
          + " (kept: " + r.getVersionsList().stream().map(VersionRecord::getVersion).toList() + ")");
    }
    return v;
  }

  /** Number of erasable parameter entries. */
  static long parameterCount(ModelRecord r) {
    long count = 0;
    for (var p : r.getParametersList()) {
      long n = 1;
      for (long d : p.getDimsList()) {
        n *= d;
      }
      count += n;
    }
    return count;
  }

  /** Evaluates version {@code version} (0 = active) of {@code e} on labelled samples. */
  static Evaluation evaluate(ModelEntry e, long version, Samples batch) {
    return atVersion(e, version, (r, v) -> {
      VersionView view = new VersionView(e, r, v);
      return evaluate(e, r, v, view.check(batch, true), view.weights());
    });
  }

  /** Per-sample losses and gradients of version {@code version} (0 = active) of {@code e}. */
  static ModelStore.Gradients gradients(ModelEntry e, long version, Samples batch, boolean full,
      long maxResponseBytes) {
    return atVersion(e, version, (r, v) -> new ModelStore.Gradients(v.getVersion(),
        gradients(e, r, v, new VersionView(e, r, v).check(batch, true), full, maxResponseBytes)));
  }

  /**
   * Evaluates checked samples with the graph of the model and the weights {@code w} (the
   * version's own, or an erase's candidate); reported at {@code v}.
   */
  static Evaluation evaluate(ModelEntry e, ModelRecord r, VersionRecord v, Samples checked,
      VersionWeights w) {
    int n = checked.size();
    float[] logits = e.runtime.logits(checked, w);
    return Metrics.evaluate(LossFunction.valueOf(r.getLoss()), logits, n, checked.labels(),
        w.version() < 0 ? -1 : v.getVersion());
  }

  /**
   * Per-sample losses and gradients (norms only unless {@code full}) of checked samples.
   *
   * @throws LetheException RESOURCE_EXHAUSTED when the full matrix would exceed
   *     {@code maxResponseBytes}
   */
  static GradientResult gradients(ModelEntry e, ModelRecord r, VersionRecord v,
      Samples checked, boolean full, long maxResponseBytes) {
    long p = parameterCount(r);
    int n = checked.size();
    if (full && (long) n * p * Float.BYTES > maxResponseBytes) {
      throw LetheException.tooLarge("samples", n + " samples x " + p + " parameters = "
          + (long) n * p * Float.BYTES + " bytes of gradients exceed the response limit of "
          + maxResponseBytes + "; send fewer samples or ask for norms only (full = false)");
    }
    VersionWeights w = e.runtime.weights(v.getVersion());
    return e.runtime.gradients(checked, w, LossFunction.valueOf(r.getLoss()), r.getL2(), full);
  }
}
