package dev.lethe.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

/**
 * The ONNX Runtime sessions of one {@link GradientGraph} (one set of sizes of the symbolic
 * dims): the loss-seeded session, created here, and the cotangent-seeded one, on first use.
 *
 * <p>Ownership: {@link GradientEngine} creates and retires it. Calls {@link #acquire} before a
 * run and {@link #release} after; {@link #retire} (evicted from the engine's cache, or the
 * engine closed) closes the sessions once the last call in flight releases them. Thread-safe.
 */
final class GradientSessions {
  private final GradientGraph graph;
  private final OrtEnvironment env;
  private final OrtSession loss;
  private OrtSession cotangent; // guarded by this
  private OrtSession factors; // guarded by this
  private int users; // guarded by this
  private boolean retired; // guarded by this

  GradientSessions(OrtEnvironment env, GradientGraph graph) {
    this.env = env;
    this.graph = graph;
    this.loss = create(GradientGraph.Seed.LOSS);
    if (ExternalData.externalBytes(graph.model(GradientGraph.Seed.COTANGENT)) > 0) {
      // Its frozen weights are read from the model's file, which is there now, not necessarily
      // later (issue 13: large initializers stay in the staged file as external data).
      try {
        this.cotangent = create(GradientGraph.Seed.COTANGENT);
      } catch (RuntimeException e) {
        try {
          loss.close();
        } catch (OrtException closing) {
          e.addSuppressed(closing);
        }
        throw e;
      }
    }
  }

  GradientGraph graph() {
    return graph;
  }

  /** Counts a call in; false once retired (the caller looks the sizes up again). */
  synchronized boolean acquire() {
    if (retired) {
      return false;
    }
    users++;
    return true;
  }

  synchronized void release() {
    users--;
    if (retired && users == 0) {
      closeSessions();
    }
  }

  /** No new calls; the sessions close when the calls in flight have released them. */
  synchronized void retire() {
    if (!retired) {
      retired = true;
      if (users == 0) {
        closeSessions();
      }
    }
  }

  /** The session for the seed; only between {@link #acquire} and {@link #release}. */
  OrtSession session(boolean cotangentSeed) {
    if (!cotangentSeed) {
      return loss;
    }
    synchronized (this) {
      if (cotangent == null) {
        cotangent = create(GradientGraph.Seed.COTANGENT);
      }
      return cotangent;
    }
  }

  /** The {@link GradientGraph.Seed#FACTORS} session, created on first use; as {@link #session}. */
  synchronized OrtSession factorsSession() {
    if (factors == null) {
      factors = create(GradientGraph.Seed.FACTORS);
    }
    return factors;
  }

  private OrtSession create(GradientGraph.Seed seed) {
    try {
      return OrtSessions.create(env, graph.model(seed), 0);
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime rejected the gradient graph: " + e.getMessage(), e);
    }
  }

  private void closeSessions() {
    try {
      loss.close();
      if (cotangent != null) {
        cotangent.close();
        cotangent = null;
      }
      if (factors != null) {
        factors.close();
        factors = null;
      }
    } catch (OrtException e) {
      throw new IllegalStateException("closing the gradient sessions failed: " + e.getMessage(), e);
    }
  }
}
