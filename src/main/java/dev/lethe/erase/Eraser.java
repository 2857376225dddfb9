package dev.lethe.erase;

import dev.lethe.core.Batches;
import dev.lethe.core.EraseOutcome;
import dev.lethe.core.LetheException;
import dev.lethe.core.Messages;
import dev.lethe.core.Samples;
import dev.lethe.fisher.Fishers;
import dev.lethe.fisher.ModelView;
import dev.lethe.store.EraseCommit;
import dev.lethe.store.EraseSession;
import dev.lethe.store.ModelStore;
import dev.lethe.store.SpecValidator;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Erases samples from a model by one SSSE step (DESIGN.md, eq. 4):
 * θ̂ = θ + ε/(n−k) · F⁻¹ · Σ_{i∈S} ∇l_i(θ), with θ the active weights, n the active version's
 * train_size, k the samples not erased before, ε the spec's scale and F⁻¹ the inverse Fisher
 * attached to the active version. The new version, its ledger entries and the request's answer
 * are committed in one write, then activated.
 *
 * <p>{@link #erase} reads as its steps: request checks → open the erase (the store's lock and
 * snapshot) → replay check → preconditions → filter erased ids → gradient sum (double) → solve →
 * guards → commit. It makes three calls into the store: {@link ModelStore#openErase},
 * {@link EraseSession#commit} and the session's close; the samples are checked once, by the
 * version's {@link ModelView}.
 *
 * <p>Erases on one model are serialised by the store's model lock; readers never wait for them.
 * Thread-safe. Owns nothing that needs closing: the store and the Fishers belong to the server.
 */
public record Eraser(ModelStore store, Fishers fishers, EraseConfig config) {
  /** Longest sample id accepted (ids are quoted in answers and hashed into the ledger). */
  public static final int MAX_ID_CHARS = ModelStore.MAX_ID_CHARS;


  /**
   * Erases, or with {@code dryRun} computes what an erase would do.
   *
   * @throws LetheException INVALID_ARGUMENT (ids, samples, reused request id), NOT_FOUND,
   *     FAILED_PRECONDITION (no Fisher, stale expected_version, an update refused by the guards),
   *     RESOURCE_EXHAUSTED (too many samples)
   */
  public EraseOutcome erase(EraseCommand c) {
    checkRequest(c);
    String digest = RequestDigest.of(c);
    try (EraseSession session = store.openErase(c.name(), c.requestId(), c.samples().ids())) {
      ModelView model = session.view();
      Samples samples = model.check(c.samples(), true);
      if (session.storedAnswer().isPresent()) {
        return replay(c, session.storedAnswer().get(), digest);
      }
      checkPreconditions(c, session);
      Selection todo = notErasedBefore(session, samples);
      if (todo.k() == 0) {
        EraseOutcome none = new EraseOutcome(session.version(), 0, todo.already(), 0, Double.NaN,
            Double.NaN, new EraseOutcome.Timings(0, 0, 0, 0));
        if (!c.dryRun() && !c.requestId().isEmpty()) {
          session.commit(new EraseCommit(null, session.trainSize(), session.fisherId(), List.of(),
              c.requestId(), digest, none));
        }
        return none;
      }
      long n = session.trainSize();
      if (n - todo.k() < 1) {
        throw LetheException.precondition("model '" + c.name() + "' has train_size " + n
            + "; erasing " + todo.k() + " samples would leave none");
      }

      long t0 = System.nanoTime();
      Gradients g = gradientSum(model, todo.samples(), c.downdateFisher());
      long t1 = System.nanoTime();
      double[] step = new double[g.sum().length];
      fishers.solver(c.name(), session.fisherId()).apply(g.sum(), step);
      float[] theta = session.weights();
      Update update = Update.of(theta, step, session.config().scale() / (double) (n - todo.k()),
          config.maxUpdateRatio());
      long t2 = System.nanoTime();
      double lossBefore = model.meanLoss(todo.samples(), null);
      double lossAfter = model.meanLoss(todo.samples(), update.weights());
      long t3 = System.nanoTime();
      double gradientsMs = (t1 - t0) / 1e6;
      double solveMs = (t2 - t1) / 1e6;
      if (c.dryRun()) {
        return new EraseOutcome(session.version(), todo.k(), todo.already(), update.norm(),
            lossBefore, lossAfter, new EraseOutcome.Timings(gradientsMs, solveMs, 0, 0));
      }

      String fisherId = g.rows() == null ? session.fisherId()
          : fishers.downdate(c.name(), session.fisherId(), g.rows());
      double storeMs = (System.nanoTime() - t3) / 1e6;
      EraseOutcome answer = new EraseOutcome(session.version(), todo.k(), todo.already(),
          update.norm(), lossBefore, lossAfter,
          new EraseOutcome.Timings(gradientsMs, solveMs, storeMs, 0));
      EraseSession.Committed done;
      try {
        done = session.commit(new EraseCommit(update.weights(), n - todo.k(), fisherId,
            todo.idHashes(), c.requestId(), digest, answer));
      } catch (RuntimeException e) {
        if (!fisherId.equals(session.fisherId())) {
          discardFisher(c.name(), fisherId, e);
        }
        throw e;
      }
      return new EraseOutcome(done.version(), todo.k(), todo.already(), update.norm(), lossBefore,
          lossAfter, new EraseOutcome.Timings(gradientsMs, solveMs, storeMs + done.commitMs(),
              done.publishMs()));
    }
  }

  /**
   * Deletes a downdated Fisher whose erase did not commit (no version references it); a failure
   * to delete is attached to {@code first}, never thrown in its place (the start-up sweep
   * removes it then).
   */
  private void discardFisher(String model, String fisherId, RuntimeException first) {
    try {
      fishers.store().delete(model, fisherId);
    } catch (RuntimeException cleanup) {
      first.addSuppressed(cleanup);
    }
  }

  /** Field checks that need no model: name, ids, request id, the request size limit. */
  private void checkRequest(EraseCommand c) {
    SpecValidator.checkName("name", c.name());
    if (c.requestId().length() > 256) {
      throw LetheException.invalid("request_id", "longer than 256 characters");
    }
    Samples s = c.samples();
    if (s == null || s.inputs().isEmpty()) {
      throw LetheException.invalid("samples", "required");
    }
    int n = s.size();
    if (n > config.maxSamples()) {
      throw LetheException.tooLarge("samples", n + " samples exceed the limit of "
          + config.maxSamples() + " per request (--max-erase-samples)");
    }
    if (s.ids().size() != n) {
      throw LetheException.invalid("samples.ids", "required, one per row: got " + s.ids().size()
          + " ids for " + n + " samples");
    }
    Set<String> seen = new HashSet<>();
    for (String id : s.ids()) {
      if (id.isEmpty()) {
        throw LetheException.invalid("samples.ids", "an id is empty");
      }
      if (id.length() > MAX_ID_CHARS) {
        throw LetheException.invalid("samples.ids", "'" + Messages.quote(id) + "' is longer than "
            + MAX_ID_CHARS + " characters");
      }
      if (!seen.add(id)) {
        throw LetheException.invalid("samples.ids", "'" + Messages.quote(id) + "' appears twice");
      }
    }
  }

  /** The first answer to a request id, if this is the same request again. */
  private static EraseOutcome replay(EraseCommand c, EraseSession.Answer stored, String digest) {
    if (!stored.requestDigest().equals(digest)) {
      throw LetheException.invalid("request_id",
          "'" + Messages.quote(c.requestId()) + "' was already used for a different request");
    }
    return stored.outcome();
  }

  private static void checkPreconditions(EraseCommand c, EraseSession s) {
    if (c.expectedVersion() != 0 && c.expectedVersion() != s.version()) {
      throw LetheException.precondition("expected_version " + c.expectedVersion()
          + " is stale: model '" + c.name() + "' is at version " + s.version());
    }
    if (s.fisherId().isEmpty()) {
      throw LetheException.precondition("model '" + c.name() + "' version " + s.version()
          + " has no inverse Fisher: run BuildFisher first");
    }
  }

  /** The request's rows whose ids no erase in the active version's lineage removed. */
  private record Selection(Samples samples, List<String> idHashes, List<String> already) {
    int k() {
      return idHashes.size();
    }
  }

  private static Selection notErasedBefore(EraseSession s, Samples samples) {
    List<String> already = new ArrayList<>();
    List<String> hashes = new ArrayList<>();
    List<Integer> rows = new ArrayList<>();
    for (int i = 0; i < samples.ids().size(); i++) {
      if (s.erasedBefore(i)) {
        already.add(samples.ids().get(i));
      } else {
        rows.add(i);
        hashes.add(s.idHashes().get(i));
      }
    }
    return new Selection(Batches.rows(samples, rows.stream().mapToInt(Integer::intValue).toArray()),
        hashes, already);
  }

  /**
   * Σ∇l_i in double, [P]; and, for a downdate, each sample's gradient (k arrays of P floats).
   *
   * @param sum the summed gradients
   * @param rows the per-sample gradients, or null when not asked for
   */
  private record Gradients(double[] sum, float[][] rows) {}

  /**
   * Gradients in chunks of at most {@code chunkBytes} of [rows, P] float32, summed in double.
   *
   * @throws LetheException RESOURCE_EXHAUSTED when a downdate's k × P gradients exceed a
   *     quarter of the heap
   */
  private Gradients gradientSum(ModelView model, Samples erase, boolean keepRows) {
    long p = model.parameterCount();
    int k = erase.size();
    if (keepRows && (long) k * p * Float.BYTES > Runtime.getRuntime().maxMemory() / 4) {
      throw LetheException.tooLarge("samples", "downdate_fisher keeps the " + k + " erased"
          + " samples' gradients of " + p + " parameters (" + (long) k * p * Float.BYTES
          + " bytes), more than a quarter of the heap (-Xmx); erase fewer samples per request");
    }
    double[] sum = new double[(int) p];
    float[][] rows = keepRows ? new float[k][] : null;
    int chunk = (int) Math.max(1, Math.min(k, config.chunkBytes() / (p * Float.BYTES)));
    for (int from = 0; from < k; from += chunk) {
      int to = Math.min(k, from + chunk);
      float[] g = model.gradients(Batches.range(erase, from, to));
      for (int i = 0; i < to - from; i++) {
        int offset = (int) (i * p);
        for (int j = 0; j < p; j++) {
          sum[j] += g[offset + j];
        }
        if (rows != null) {
          rows[from + i] = java.util.Arrays.copyOfRange(g, offset, offset + (int) p);
        }
      }
    }
    return new Gradients(sum, rows);
  }
}
