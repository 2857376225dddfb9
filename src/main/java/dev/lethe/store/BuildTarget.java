package dev.lethe.store;

import dev.lethe.core.ModelConfig;
import dev.lethe.fisher.Convergence;
import dev.lethe.fisher.FisherTarget;
import dev.lethe.fisher.ModelView;
import dev.lethe.storage.records.ModelRecord;

/**
 * The store's {@link FisherTarget}: the version a BuildFisher stream builds for, resolved when
 * the stream's options arrived; attaching goes back through the store's one record rewrite.
 * Immutable; thread-safe.
 */
record BuildTarget(ModelStore store, String model, long version, long trainSize,
    ModelConfig config, ModelView view) implements FisherTarget {
  private static final java.util.logging.Logger LOG =
      java.util.logging.Logger.getLogger(BuildTarget.class.getName());

  /**
   * Attaches the built Fisher to its version (its weights are those it was computed at);
   * watchers see {@code fisher_ready}. The Fisher the version had before is deleted in the same
   * write when no kept version references it any more. When the attach fails (the model was
   * deleted while it was built, say) the new Fisher is deleted: its data must not stay.
   */
  @Override
  public void attach(String fisherId, Convergence convergence) {
    try {
      store.rewrite(model, r -> {
        long v = ModelReads.keptVersion(r, version).getVersion();
        ModelRecord.Builder b = r.toBuilder();
        for (int i = 0; i < b.getVersionsCount(); i++) {
          if (b.getVersions(i).getVersion() == v) {
            b.setVersions(i, b.getVersions(i).toBuilder().setFisherId(fisherId)
                .setFisherVersion(v)
                .setFisherMeanGradientNorm(convergence.meanGradientNorm())
                .setFisherGradientRms(convergence.gradientRms()));
          }
        }
        return b.build();
      });
    } catch (RuntimeException e) {
      store.dropFisher(model, fisherId);
      throw e;
    }
    if (!convergence.warning().isEmpty()) {
      LOG.warning("model " + model + " version " + version + ": " + convergence.warning());
    }
  }
}
