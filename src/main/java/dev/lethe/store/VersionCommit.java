package dev.lethe.store;

import dev.lethe.core.Sha256;
import dev.lethe.core.LetheException;
import dev.lethe.fisher.FisherStore;
import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.StorageException;
import dev.lethe.storage.records.ModelRecord;
import dev.lethe.storage.records.VersionRecord;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.BiConsumer;

/**
 * The write side of a new version: the version record made from its parent, retention, and the
 * one synced write batch that commits the record and whatever else belongs with it. An upload's
 * weights ({@link ModelRegistrar}) are in that batch; a derived version's (an erase's) are
 * ingested just before it ({@link LetheDb#ingestBlob}), unreachable until the batch commits.
 * Stateless; callers hold the model's lock.
 */
final class VersionCommit {
  private VersionCommit() {}

  /**
   * Adds to {@code batch}: the record, the version's weights, the deletion of dropped versions'
   * weights and of every Fisher {@code before} referenced that {@code record} does not.
   *
   * @param before the record this one replaces (null for a new model)
   */
  static void write(LetheDb.Batch batch, ModelRecord before, ModelRecord record, long version,
      byte[] weights, List<Long> dropped) {
    batch.putBlob(Family.WEIGHTS, Keys.version(record.getName(), version), weights);
    writeRest(batch, before, record, dropped);
  }

  private static void writeRest(LetheDb.Batch batch, ModelRecord before, ModelRecord record,
      List<Long> dropped) {
    String name = record.getName();
    batch.put(Family.MODELS, Keys.model(name), record.toByteArray());
    for (long d : dropped) {
      batch.deletePrefix(Family.WEIGHTS, Keys.version(name, d));
    }
    dropUnreferencedFishers(batch, before, record);
  }

  /**
   * Adds to {@code batch} the deletion of every Fisher that a version of {@code before}
   * references and no version of {@code after} does: an old Fisher holds the gradient terms of
   * samples erased since, so it goes in the same write that drops its last reference.
   */
  static void dropUnreferencedFishers(LetheDb.Batch batch, ModelRecord before, ModelRecord after) {
    if (before == null) {
      return;
    }
    java.util.Set<String> kept = new java.util.HashSet<>();
    after.getVersionsList().forEach(v -> kept.add(v.getFisherId()));
    java.util.Set<String> dropped = new java.util.TreeSet<>();
    for (VersionRecord v : before.getVersionsList()) {
      if (!v.getFisherId().isEmpty() && !kept.contains(v.getFisherId())) {
        dropped.add(v.getFisherId());
      }
    }
    dropped.forEach(id -> FisherStore.deleteIn(batch, after.getName(), id));
  }

  /**
   * Commits a version derived from the active one (an erase) and returns the new record, which
   * makes it active. Its file's sha256 and size are computed by composing it.
   *
   * @throws LetheException FAILED_PRECONDITION when {@code expectedActive} is no longer active
   */
  static ModelRecord derive(LetheDb db, int retention, ModelRecord r, ModelRuntime runtime,
      VersionWeights w, long expectedActive, long trainSize, String origin,
      boolean isErasure, String fisherId, long fisherVersion,
      BiConsumer<LetheDb.Batch, Long> extra) {
    if (r.getActiveVersion() != expectedActive) {
      throw LetheException.precondition("model '" + r.getName() + "' active version is "
          + r.getActiveVersion() + ", not " + expectedActive);
    }
    VersionRecord parent = Records.version(r, expectedActive);
    long version = w.version();
    // The weights go in first, unreachable until the batch below commits the record that
    // references them (debris for the start-up sweep if it never does). The file's sha256 is
    // computed meanwhile on another thread: the ingest mostly waits for its sync.
    CompletableFuture<Composed> composing =
        CompletableFuture.supplyAsync(() -> compose(runtime, w, r.getName()));
    db.ingestBlob(Family.WEIGHTS, Keys.version(r.getName(), version), w.bytes());
    Composed file;
    try {
      file = composing.join();
    } catch (CompletionException ex) {
      throw ex.getCause() instanceof RuntimeException re ? re : ex;
    }
    VersionRecord.Builder v = VersionRecord.newBuilder()
        .setVersion(version)
        .setTrainSize(trainSize)
        .setCreatedUnixMs(System.currentTimeMillis())
        .setOrigin(origin)
        .setSha256(file.sha256())
        .setSizeBytes(file.size())
        .setParent(expectedActive)
        .addAllEraseLineage(parent.getEraseLineageList())
        .setFisherId(fisherId)
        .setFisherVersion(fisherId.isEmpty() ? 0 : fisherVersion);
    if (!fisherId.isEmpty()) {
      // the Fisher (or its downdate) was built at the same weights as the parent's
      v.setFisherMeanGradientNorm(parent.getFisherMeanGradientNorm())
          .setFisherGradientRms(parent.getFisherGradientRms());
    }
    if (isErasure) {
      v.addEraseLineage(version);
    }
    ModelRecord.Builder b = r.toBuilder();
    String replaced = parent.getFisherId();
    if (!replaced.isEmpty() && !replaced.equals(fisherId)) {
      // A downdate replaces the parent's Fisher, which still holds the erased samples' terms:
      // no version keeps it, so the write below deletes it.
      for (int i = 0; i < b.getVersionsCount(); i++) {
        if (b.getVersions(i).getFisherId().equals(replaced)) {
          b.setVersions(i, b.getVersions(i).toBuilder().clearFisherId().clearFisherVersion());
        }
      }
    }
    b
        .setNextVersion(version + 1)
        .setActiveVersion(version)
        .addVersions(v);
    List<Long> dropped = ModelRegistrar.applyRetention(b, retention);
    ModelRecord updated = b.build();
    db.write(batch -> {
      writeRest(batch, r, updated, dropped);
      extra.accept(batch, version);
    });
    return updated;
  }

  /** The sha256 (hex) and size of a version's model file. */
  private record Composed(String sha256, long size) {}

  private static Composed compose(ModelRuntime runtime, VersionWeights w, String name) {
    MessageDigest md = Sha256.digest();
    try (InputStream in = new DigestInputStream(runtime.compose(w), md)) {
      long size = in.transferTo(OutputStream.nullOutputStream());
      return new Composed(Sha256.hex(md), size);
    } catch (IOException ex) {
      throw new StorageException("composing model " + name + " version " + w.version(), ex);
    }
  }

  /**
   * Commits an erase's value (see {@link EraseSession#commit}) for the model {@code e} whose
   * snapshot under the caller's lock is {@code r}: the new version, its ledger entries and the
   * answer in one synced batch (only the answer when there are no weights), then
   * {@code publish}.
   */
  static EraseSession.Committed erase(LetheDb db, int retention, ModelEntry e, ModelRecord r,
      EraseCommit c, List<String> requestIds, EraseLedger ledger, RequestLog requests,
      BiConsumer<ModelEntry, ModelRecord> publish) {
    String name = r.getName();
    long start = System.nanoTime();
    if (c.weights() == null) {
      db.write(b -> EraseSession.recordAnswer(b, requests, name, c, r.getActiveVersion(), requestIds));
      return new EraseSession.Committed(r.getActiveVersion(), (System.nanoTime() - start) / 1e6, 0);
    }
    VersionWeights w = VersionWeights.wrap(r.getNextVersion(), c.weights(),
        e.runtime.parameterOffsets());
    long now = System.currentTimeMillis();
    ModelRecord updated = derive(db, retention, r, e.runtime, w, r.getActiveVersion(),
        c.trainSize(), "erase", true, c.fisherId(), c.fisherVersion(), (batch, version) -> {
          ledger.recordErase(batch, name, version, c.idHashes(), c.requestId(), now);
          EraseSession.recordAnswer(batch, requests, name, c, version, requestIds);
        });
    long committed = System.nanoTime();
    // The record switches before the cache drops the parent's weights, which the batch deleted
    // from the store: a reader still on the parent's record finds them cached, or finds the
    // record switched and retries at the new version (ModelReads.atVersion).
    e.record = updated;
    e.runtime.cache(w, c.fisherVersion());
    publish.accept(e, updated);
    return new EraseSession.Committed(updated.getActiveVersion(), (committed - start) / 1e6,
        (System.nanoTime() - committed) / 1e6);
  }
}
