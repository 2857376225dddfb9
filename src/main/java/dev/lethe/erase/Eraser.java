package dev.lethe.erase;

import dev.lethe.core.Batches;
import dev.lethe.core.EraseOutcome;
import dev.lethe.core.ErasureStep;
import dev.lethe.core.LetheException;
import dev.lethe.core.Messages;
import dev.lethe.core.Samples;
import dev.lethe.fisher.FactoredGradient;
import dev.lethe.fisher.FisherHeader;
import dev.lethe.fisher.Fishers;
import dev.lethe.fisher.KroneckerStep;
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
 * Erases samples from a model by one SSSE step: θ̂ = θ + ε/(n−k) · F⁻¹ · Σ_{i∈S} ∇l_i(θ), with θ
 * the active weights, n the active version's train_size, k the samples not erased before, ε the
 * spec's scale, and F the Fisher attached to the active version — by default without S
 * ({@link ErasureStep#LEAVE_OUT}, the paper's eq. 1: F₋S, S's rows made from the request's own
 * samples at the weights the Fisher was built at, {@link Fishers#leaveOut}), or as stored
 * ({@link ErasureStep#FULL_FISHER}, eq. 4). The new version, its ledger entries and the
 * request's answer are committed in one write, then activated.
 *
 * <p>{@link #erase} reads as its steps: request checks → open the erase (the store's lock and
 * snapshot) → replay check → preconditions → filter erased ids → which step → gradient sum
 * (double) → solve → guards → commit. It makes three calls into the store: {@link ModelStore#openErase},
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
   * Erases, or with {@code dryRun} computes what an erase would do (and what the other step
   * would).
   *
   * @throws LetheException INVALID_ARGUMENT (ids, samples, reused request id), NOT_FOUND,
   *     FAILED_PRECONDITION (no Fisher, stale expected_version, a LEAVE_OUT or downdate the
   *     Fisher cannot give, F₋S not positive definite, an update refused by the guards),
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
      long n = session.trainSize();
      if (todo.k() == 0) {
        ErasureStep step = c.step() == null ? ErasureStep.LEAVE_OUT : c.step();
        EraseOutcome none = new EraseOutcome(session.version(), 0, todo.already(), 0, Double.NaN,
            Double.NaN, new EraseOutcome.Timings(0, 0, 0, 0), step, "", List.of(), 0);
        if (!c.dryRun() && !c.requestId().isEmpty()) {
          session.commit(new EraseCommit(null, n, session.fisherId(), session.fisherVersion(),
              List.of(), c.requestId(), digest, none));
        }
        return none;
      }
      if (n - todo.k() < 1) {
        throw LetheException.precondition("model '" + c.name() + "' has train_size " + n
            + "; erasing " + todo.k() + " samples would leave none");
      }
      Plan plan = plan(c, session, todo.k());

      long t0 = System.nanoTime();
      FisherHeader fisher = fishers.header(c.name(), session.fisherId());
      // a Kronecker Fisher's model sums its layers' gradients as factors (FactoredGradient)
      FactoredGradient factored = fisher.kronecker() == null ? null
          : FactoredGradient.of(model, fisher, todo.samples(), session.config().l2(),
              session.weights(), session.version());
      double[] g = factored == null ? gradientSum(model, todo.samples()) : null;
      long t1 = System.nanoTime();
      KroneckerStep fullStep = null;
      double[] full = null;
      if (plan.step() == ErasureStep.FULL_FISHER || c.dryRun()) {
        if (factored != null) {
          fullStep = fishers.apply(c.name(), session.fisherId(), factored);
          full = fullStep.x();
        } else {
          full = apply(c, session, g);
        }
      }
      Fishers.LeaveOutRun leaveOut = null;
      if (plan.unavailable().isEmpty()
          && (plan.step() == ErasureStep.LEAVE_OUT || c.downdateFisher() || c.dryRun())) {
        boolean downdate = c.downdateFisher() && !c.dryRun();
        try {
          leaveOut = factored != null
              ? fishers.leaveOut(c.name(), session.fisherId(), plan.fisherView(), todo.samples(),
                  factored, downdate)
              : fishers.leaveOut(c.name(), session.fisherId(), plan.fisherView(), todo.samples(),
                  g, downdate);
        } catch (LetheException e) {
          if (!(c.dryRun() && plan.step() == ErasureStep.FULL_FISHER && !c.downdateFisher())) {
            throw e;
          }
          // a dry run of the full-Fisher step previews LEAVE_OUT as unavailable, with the reason
          plan = new Plan(plan.step(), plan.note(), e.getMessage(), null);
        }
      }
      String fisherId = leaveOut != null && leaveOut.downdatedId() != null
          ? leaveOut.downdatedId() : session.fisherId();
      try {
        KroneckerStep used = plan.step() == ErasureStep.LEAVE_OUT
            ? (leaveOut == null ? null : leaveOut.step()) : fullStep;
        return finish(c, session, todo, plan, digest, full, leaveOut, fisherId, t0, t1, used);
      } catch (RuntimeException e) {
        if (!fisherId.equals(session.fisherId())) {
          discardFisher(c.name(), fisherId, e);
        }
        throw e;
      }
    }
  }

  /**
   * The step to run and what it needs.
   *
   * @param note why a request naming no step got FULL_FISHER ("" otherwise)
   * @param unavailable why LEAVE_OUT (and a downdate) cannot run here ("" when it can)
   * @param fisherView the version the Fisher was built at (null when unavailable)
   */
  record Plan(ErasureStep step, String note, String unavailable, ModelView fisherView) {}

  Plan plan(EraseCommand c, EraseSession session, long k) {
    FisherHeader h = fishers.header(c.name(), session.fisherId());
    String unavailable = Fishers.leaveOutUnavailable(h, k);
    ModelView fisherView = null;
    if (unavailable.isEmpty()) {
      fisherView = session.viewOf(h.modelVersion()).orElse(null);
      if (fisherView == null) {
        unavailable = "the weights of version " + h.modelVersion() + ", which the Fisher was"
            + " built at, are no longer kept: rebuild the Fisher";
      }
    }
    if (c.downdateFisher() && !unavailable.isEmpty()) {
      throw LetheException.precondition("downdate_fisher: " + unavailable + "; nothing changed");
    }
    if (c.step() == ErasureStep.LEAVE_OUT && !unavailable.isEmpty()) {
      throw LetheException.precondition("step LEAVE_OUT: " + unavailable
          + "; or ask for step FULL_FISHER; nothing changed");
    }
    if (c.step() == null && !unavailable.isEmpty()) {
      return new Plan(ErasureStep.FULL_FISHER, "LEAVE_OUT unavailable: " + unavailable,
          unavailable, null);
    }
    return new Plan(c.step() == null ? ErasureStep.LEAVE_OUT : c.step(), "", unavailable,
        fisherView);
  }

  double[] apply(EraseCommand c, EraseSession session, double[] g) {
    double[] step = new double[g.length];
    fishers.solver(c.name(), session.fisherId()).apply(g, step);
    return step;
  }

  /** Guards, losses, previews and the commit of a solved erase. */
  private EraseOutcome finish(EraseCommand c, EraseSession session, Selection todo, Plan plan,
      String digest, double[] full, Fishers.LeaveOutRun leaveOut, String fisherId, long t0,
      long t1, KroneckerStep used) {
    long n = session.trainSize();
    double scale = session.config().scale() / (double) (n - todo.k());
    float[] theta = session.weights();
    double[] step = plan.step() == ErasureStep.LEAVE_OUT ? leaveOut.result().x() : full;
    Update update = Update.of(theta, step, scale, config.maxUpdateRatio());
    long t2 = System.nanoTime();
    ModelView model = session.view();
    double lossBefore = model.meanLoss(todo.samples(), (float[]) null);
    double lossAfter = model.meanLoss(todo.samples(), update.weights());
    long t3 = System.nanoTime();
    double rowsMs = leaveOut == null ? 0 : leaveOut.rowsMs();
    double gradientsMs = (t1 - t0) / 1e6 + rowsMs;
    double solveMs = (t2 - t1) / 1e6 - rowsMs;
    if (c.dryRun()) {
      List<EraseOutcome.Preview> previews = new ArrayList<>();
      for (ErasureStep s : ErasureStep.values()) {
        double[] u = s == ErasureStep.LEAVE_OUT ? (leaveOut == null ? null : leaveOut.result().x())
            : full;
        if (u == null) {
          previews.add(new EraseOutcome.Preview(s, Double.NaN, Double.NaN, plan.unavailable()));
        } else {
          Update p = s == plan.step() ? update : Update.unchecked(theta, u, scale);
          previews.add(new EraseOutcome.Preview(s, p.norm(),
              s == plan.step() ? lossAfter : model.meanLoss(todo.samples(), p.weights()), ""));
        }
      }
      return new EraseOutcome(session.version(), todo.k(), todo.already(), update.norm(),
          lossBefore, lossAfter, new EraseOutcome.Timings(gradientsMs, solveMs, 0, 0, rowsMs),
          plan.step(), plan.note(), previews, update.ratio());
    }
    double storeMs = (System.nanoTime() - t3) / 1e6;
    EraseOutcome answer = new EraseOutcome(session.version(), todo.k(), todo.already(),
        update.norm(), lossBefore, lossAfter,
        new EraseOutcome.Timings(gradientsMs, solveMs, storeMs, 0, rowsMs), plan.step(),
        plan.note(), List.of(), update.ratio());
    EraseSession.Committed done = session.commit(new EraseCommit(update.weights(), n - todo.k(),
        fisherId, session.fisherVersion(), todo.idHashes(), c.requestId(), digest, answer));
    fishers.committed(c.name(), used, done.version(), scale);
    return answer.atVersion(done.version()).withTimings(new EraseOutcome.Timings(gradientsMs,
        solveMs, storeMs + done.commitMs(), done.publishMs(), rowsMs));
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
  void checkRequest(EraseCommand c) {
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

  static void checkPreconditions(EraseCommand c, EraseSession s) {
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
  record Selection(Samples samples, List<String> idHashes, List<String> already) {
    int k() {
      return idHashes.size();
    }
  }

  static Selection notErasedBefore(EraseSession s, Samples samples) {
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

  /** Σ∇l_i in double, [P], from gradients in chunks of at most the configured bytes. */
  double[] gradientSum(ModelView model, Samples erase) {
    long p = model.parameterCount();
    int k = erase.size();
    double[] sum = new double[(int) p];
    int chunk = (int) Math.max(1, Math.min(k, config.chunkBytes() / (p * Float.BYTES)));
    for (int from = 0; from < k; from += chunk) {
      int to = Math.min(k, from + chunk);
      float[] g = model.gradients(Batches.range(erase, from, to));
      for (int i = 0; i < to - from; i++) {
        int offset = (int) (i * p);
        for (int j = 0; j < p; j++) {
          sum[j] += g[offset + j];
        }
      }
    }
    return sum;
  }
}
