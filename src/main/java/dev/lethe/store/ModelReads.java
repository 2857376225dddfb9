package dev.lethe.store;

import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import dev.lethe.eval.Evaluation;
import dev.lethe.eval.Metrics;
import dev.lethe.onnx.BatchValidator;
import dev.lethe.onnx.ForwardSession;
import dev.lethe.onnx.GradientEngine;
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
  static <T> T atVersion(ModelStore.Entry e, long version,
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

  static Evaluation evaluate(ModelStore.Entry e, ModelRecord r, VersionRecord v, Samples batch) {
    int n = BatchValidator.checkInputs(e.runtime.inputs(), batch);
    LossFunction loss = LossFunction.valueOf(r.getLoss());
    long[] outputDims = r.getOutputDimsList().stream().mapToLong(Long::longValue).toArray();
    BatchValidator.checkLabels(loss, outputDims, n, batch.labels());
    VersionWeights w = e.runtime.weights(v.getVersion());
    ForwardSession.Logits logits = e.runtime.forward(v.getVersion()).logits(batch, n, w.parameters());
    return Metrics.evaluate(loss, logits.values(), n, batch.labels(), v.getVersion());
  }

  /** Weights that are not (yet) a version, with the active version's graph. */
  static Evaluation evaluateWeights(ModelStore.Entry e, Samples batch, float[] weights) {
    ModelRecord r = e.record;
    VersionWeights w = VersionWeights.of(-1, weights, e.runtime.parameterOffsets());
    int n = BatchValidator.checkInputs(e.runtime.inputs(), batch);
    ForwardSession.Logits logits =
        e.runtime.forward(r.getActiveVersion()).logits(batch, n, w.parameters());
    return Metrics.evaluate(LossFunction.valueOf(r.getLoss()), logits.values(), n, batch.labels(), -1);
  }

  static GradientResult gradients(ModelStore.Entry e, ModelRecord r, VersionRecord v,
      Samples batch, boolean full, long maxResponseBytes) {
    long p = parameterCount(r);
    int n = batch.size();
    if (full && (long) n * p * Float.BYTES > maxResponseBytes) {
      throw LetheException.tooLarge("samples", n + " samples x " + p + " parameters = "
          + (long) n * p * Float.BYTES + " bytes of gradients exceed the response limit of "
          + maxResponseBytes + "; send fewer samples or ask for norms only (full = false)");
    }
    GradientEngine engine = e.runtime.gradients(v.getVersion(), LossFunction.valueOf(r.getLoss()), r.getL2());
    VersionWeights w = e.runtime.weights(v.getVersion());
    return full ? engine.compute(batch, w.parameters()) : engine.norms(batch, w.parameters());
  }

  static GradientResult cotangentGradients(ModelStore.Entry e, ModelRecord r, VersionRecord v,
      Samples batch, float[] cotangent) {
    return e.runtime.gradients(v.getVersion(), LossFunction.valueOf(r.getLoss()), r.getL2())
        .computeWithCotangent(batch, e.runtime.weights(v.getVersion()).parameters(), cotangent);
  }

  static float[] logits(ModelStore.Entry e, VersionRecord v, Samples batch) {
    int n = BatchValidator.checkInputs(e.runtime.inputs(), batch);
    return e.runtime.forward(v.getVersion())
        .logits(batch, n, e.runtime.weights(v.getVersion()).parameters()).values();
  }
}
