package dev.lethe.store;

import dev.lethe.core.ModelConfig;
import dev.lethe.fisher.Convergence;
import dev.lethe.fisher.FisherTarget;
import dev.lethe.fisher.ModelView;

/**
 * The store's {@link FisherTarget}: the version a BuildFisher stream builds for, resolved when
 * the stream's options arrived; attaching goes back through the store's one record rewrite.
 * Immutable; thread-safe.
 */
record BuildTarget(ModelStore store, String model, long version, long trainSize,
    ModelConfig config, ModelView view) implements FisherTarget {

  @Override
  public void attach(String fisherId, Convergence convergence) {
    store.attachFisher(model, version, fisherId, convergence);
  }
}
