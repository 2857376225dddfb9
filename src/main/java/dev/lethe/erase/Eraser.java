package dev.lethe.erase;

import dev.lethe.core.Batches;
import dev.lethe.fisher.FisherProvider;
import dev.lethe.core.LetheException;
import dev.lethe.core.Samples;
import dev.lethe.core.Sha256;
import dev.lethe.core.DenseTensor;
import dev.lethe.onnx.BatchValidator;
import dev.lethe.onnx.GradientResult;
import dev.lethe.storage.LetheDb;
import dev.lethe.store.EraseLedger;
import dev.lethe.store.ModelState;
import dev.lethe.store.ModelStore;
import dev.lethe.store.SpecValidator;
import dev.lethe.store.VersionWeights;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * Erases samples from a model by one SSSE step (DESIGN.md, eq. 4):
 * θ̂ = θ + ε/(n−k) · F⁻¹ · Σ_{i∈S} ∇l_i(θ), with θ the active weights, n the active version's
 * train_size, k the samples not erased before, ε the spec's scale and F⁻¹ the inverse Fisher
 * attached to the active version. The new version, its ledger entries and the request's answer
 * are committed in one write, then activated.
 *
 * <p>Erases on one model are serialised by the store's model lock; readers never wait for them.
 * Thread-safe. Owns nothing that needs closing.
 */
public final class Eraser {
  private final ModelStore store;
  private final FisherProvider fishers;
  private final RequestLog requests;
  private final LetheDb db;
  private final EraseConfig config;

  public Eraser(ModelStore store, LetheDb db, FisherProvider fishers, EraseConfig config) {
    this.store = store;
    this.db = db;
    this.fishers = fishers;
    this.requests = new RequestLog(db);
    this.config = config;
  }

  /**
   * Erases, or with {@code dryRun} computes what an erase would do.
   *
   * @throws LetheException INVALID_ARGUMENT (ids, samples, reused request id), NOT_FOUND,
   *     FAILED_PRECONDITION (no Fisher, stale expected_version, an update refused by the guards),
   *     RESOURCE_EXHAUSTED (too many samples)
   */
  public EraseOutcome erase(EraseCommand c) {
    SpecValidator.checkName("name", c.name());
    checkIds(c);
    if (c.requestId().length() > 256) {
      throw LetheException.invalid("request_id", "longer than 256 characters");
    }
    // Every field is checked before any work: the samples against the model's inputs and loss.
    ModelState info = store.info(c.name());
    int n = BatchValidator.checkInputs(info.inputs(), c.samples());
    BatchValidator.checkLabels(info.spec().loss(), info.outputDims(), n, c.samples().labels());
    return store.locked(c.name(), () -> eraseLocked(c));
  }

  private EraseOutcome eraseLocked(EraseCommand c) {
    long start = System.nanoTime();
    String digest = digest(c);
    if (!c.requestId().isEmpty()) {
      RequestLog.Stored stored = requests.find(c.name(), c.requestId());
      if (stored != null) {
        if (!stored.requestSha256().equals(digest)) {
          throw LetheException.invalid("request_id",
              "'" + c.requestId() + "' was already used for a different request");
        }
        return stored.outcome();
      }
    }
    ModelState info = store.info(c.name());
    long active = info.activeVersion();
    if (c.expectedVersion() != 0 && c.expectedVersion() != active) {
      throw LetheException.precondition("expected_version " + c.expectedVersion()
          + " is stale: model '" + c.name() + "' is at version " + active);
    }
    String fisherId = store.fisherId(c.name(), 0);
    if (fisherId.isEmpty()) {
      throw LetheException.precondition("model '" + c.name() + "' version " + active
          + " has no inverse Fisher: run BuildFisher first");
    }
    List<Long> lineage = store.eraseLineage(c.name(), 0);
    List<String> already = new ArrayList<>();
    List<Integer> todo = new ArrayList<>();
    List<String> todoShas = new ArrayList<>();
    for (int i = 0; i < c.samples().ids().size(); i++) {
      String id = c.samples().ids().get(i);
      String sha = EraseLedger.idHash(id);
      if (store.ledger().isErased(c.name(), sha, lineage)) {
        already.add(id);
      } else {
        todo.add(i);
        todoShas.add(sha);
      }
    }
    int k = todo.size();
    if (k == 0) {
      EraseOutcome none = new EraseOutcome(active, 0, already, 0, Double.NaN, Double.NaN,
          new EraseOutcome.Timings(0, 0, 0, 0));
      if (!c.dryRun() && !c.requestId().isEmpty()) {
        db.write(b -> requests.record(b, c.name(), c.requestId(), digest, none));
      }
      return none;
    }
    long n = info.trainSize();
    if (n - k < 1) {
      throw LetheException.precondition("model '" + c.name() + "' has train_size " + n
          + "; erasing " + k + " samples would leave none");
    }
    Samples erase = Batches.rows(c.samples(), todo.stream().mapToInt(Integer::intValue).toArray());
    long p = info.parameterCount();

    long t0 = System.nanoTime();
    double[] sum = new double[(int) p];
    float[] rows = c.downdateFisher() ? new float[(int) (k * p)] : null;
    int chunk = (int) Math.max(1, Math.min(k, config.chunkBytes() / (p * Float.BYTES)));
    for (int from = 0; from < k; from += chunk) {
      int to = Math.min(k, from + chunk);
      GradientResult g = store.gradients(c.name(), active, Batches.range(erase, from, to), true,
          Long.MAX_VALUE).result();
      float[] gr = g.gradients();
      for (int i = 0; i < to - from; i++) {
        for (int j = 0; j < p; j++) {
          sum[j] += gr[(int) (i * p + j)];
        }
      }
      if (rows != null) {
        System.arraycopy(gr, 0, rows, (int) (from * p), gr.length);
      }
    }
    long t1 = System.nanoTime();
    float[] v = new float[(int) p];
    for (int j = 0; j < p; j++) {
      v[j] = (float) sum[j];
    }
    float[] u = new float[(int) p];
    fishers.solver(c.name(), fisherId).apply(v, u);
    VersionWeights w = store.weights(c.name(), 0);
    float[] theta = w.toArray();
    double scale = info.spec().scale() / (double) (n - k);
    double updateSq = 0;
    double thetaSq = 0;
    float[] updated = new float[theta.length];
    for (int j = 0; j < theta.length; j++) {
      double d = scale * u[j];
      updateSq += d * d;
      thetaSq += (double) theta[j] * theta[j];
      updated[j] = (float) (theta[j] + d);
      if (!Float.isFinite(updated[j])) {
        throw LetheException.precondition("the update is not finite at parameter entry " + j
            + ": the Fisher may be ill-conditioned (raise the spec's dampening); nothing changed");
      }
    }
    double updateNorm = Math.sqrt(updateSq);
    double limit = config.maxUpdateRatio() * Math.sqrt(thetaSq);
    if (updateNorm > limit) {
      throw LetheException.precondition(String.format("the update's norm %.4g exceeds %.3g x |θ| "
          + "= %.4g (--max-update-ratio); check scale and dampening; nothing changed",
          updateNorm, config.maxUpdateRatio(), limit));
    }
    long t2 = System.nanoTime();
    double lossBefore = store.evaluate(c.name(), active, erase).meanLoss();
    double lossAfter = store.evaluateWeights(c.name(), erase, updated).meanLoss();
    long tLosses = System.nanoTime();
    double gradientsMs = (t1 - t0) / 1e6;
    double solveMs = (t2 - t1) / 1e6;
    if (c.dryRun()) {
      return new EraseOutcome(active, k, already, updateNorm, lossBefore, lossAfter,
          new EraseOutcome.Timings(gradientsMs, solveMs, 0, 0));
    }
    String newFisher = rows == null ? fisherId : fishers.downdate(c.name(), fisherId, rows, k, n);
    long t3 = System.nanoTime();
    long[] version = new long[1];
    long now = System.currentTimeMillis();
    ModelStore.Added after = store.addVersion(c.name(), active, VersionWeights.bytesOf(updated), n - k,
        "erase", true, newFisher, (batch, ver) -> {
          version[0] = ver;
          store.ledger().recordErase(batch, c.name(), ver, todoShas, c.requestId(), now);
          if (!c.requestId().isEmpty()) {
            requests.record(batch, c.name(), c.requestId(), digest, new EraseOutcome(ver, k,
                already, updateNorm, lossBefore, lossAfter,
                new EraseOutcome.Timings(gradientsMs, solveMs, (System.nanoTime() - tLosses) / 1e6, 0)));
          }
        });
    return new EraseOutcome(after.info().activeVersion(), k, already, updateNorm, lossBefore,
        lossAfter, new EraseOutcome.Timings(gradientsMs, solveMs,
            (t3 - tLosses) / 1e6 + after.commitMs(), after.publishMs()));
  }

  private void checkIds(EraseCommand c) {
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
      if (!seen.add(id)) {
        throw LetheException.invalid("samples.ids", "'" + id + "' appears twice");
      }
    }
  }

  /** SHA-256 over everything that determines an erase's outcome. */
  private static String digest(EraseCommand c) {
    MessageDigest md = Sha256.digest();
    update(md, c.name() + "\0" + c.expectedVersion() + "\0" + c.downdateFisher() + "\0" + c.dryRun());
    for (String id : c.samples().ids()) {
      update(md, id + "\0");
    }
    c.samples().inputs().entrySet().stream().sorted(java.util.Map.Entry.comparingByKey())
        .forEach(e -> {
          update(md, e.getKey());
          update(md, e.getValue());
        });
    if (c.samples().labels() != null) {
      update(md, c.samples().labels());
    }
    return Sha256.hex(md);
  }

  private static void update(MessageDigest md, String s) {
    md.update(s.getBytes(StandardCharsets.UTF_8));
  }

  private static void update(MessageDigest md, DenseTensor t) {
    update(md, java.util.Arrays.toString(t.dims()));
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(t.length() * 8);
    if (t.isFloat()) {
      for (float f : t.floats()) {
        b.putFloat(f);
      }
    } else {
      for (long l : t.longs()) {
        b.putLong(l);
      }
    }
    md.update(b.array(), 0, b.position());
  }
}
