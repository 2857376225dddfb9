package dev.lethe.store;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.lethe.core.EraseOutcome;
import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.StorageException;
import dev.lethe.storage.records.EraseOutcomeRecord;
import dev.lethe.storage.records.StoredEraseResponse;

/**
 * Idempotency keys of Erase: (model, request id) → the first outcome and a digest of the
 * request's content. Written in the same batch as the erase it answers. Stateless; thread-safe.
 */
final class RequestLog {
  private final LetheDb db;

  RequestLog(LetheDb db) {
    this.db = db;
  }

  /** The answer kept under (model, request id), or null. */
  EraseSession.Answer find(String model, String requestId) {
    byte[] v = db.get(Family.REQUESTS, Keys.of(model, requestId));
    if (v == null) {
      return null;
    }
    try {
      StoredEraseResponse s = StoredEraseResponse.parseFrom(v);
      EraseOutcomeRecord r = s.getResponse();
      return new EraseSession.Answer(new EraseOutcome(r.getVersion(), r.getErased(), r.getAlreadyErasedList(),
          r.getUpdateNorm(), r.getLossBefore(), r.getLossAfter(),
          new EraseOutcome.Timings(r.getGradientsMs(), r.getSolveMs(), r.getStoreMs(), r.getSwapMs())),
          s.getRequestSha256());
    } catch (InvalidProtocolBufferException e) {
      throw new StorageException("corrupt request record " + model + "/" + requestId, e);
    }
  }

  void record(LetheDb.Batch batch, String model, String requestId, String requestSha256,
      EraseOutcome o) {
    EraseOutcomeRecord r = EraseOutcomeRecord.newBuilder()
        .setVersion(o.version()).setErased(o.erased()).addAllAlreadyErased(o.alreadyErased())
        .setUpdateNorm(o.updateNorm()).setLossBefore(o.lossBefore()).setLossAfter(o.lossAfter())
        .setGradientsMs(o.timings().gradientsMs()).setSolveMs(o.timings().solveMs())
        .setStoreMs(o.timings().storeMs()).setSwapMs(o.timings().swapMs())
        .build();
    batch.put(Family.REQUESTS, Keys.of(model, requestId), StoredEraseResponse.newBuilder()
        .setResponse(r).setRequestSha256(requestSha256).build().toByteArray());
  }
}
