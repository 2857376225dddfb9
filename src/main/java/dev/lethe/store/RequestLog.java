package dev.lethe.store;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.lethe.core.EraseOutcome;
import dev.lethe.core.ErasureStep;
import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.StorageException;
import dev.lethe.storage.records.EraseOutcomeRecord;
import dev.lethe.storage.records.StoredEraseResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Idempotency keys of Erase: (model, request id) → the first outcome and a digest of the
 * request's content. Written in the same batch as the erase it answers. The outcome's
 * already-erased ids are kept as their rows in the request, never as ids (a replay has the same
 * content, so the same ids in the same order). Stateless; thread-safe.
 */
final class RequestLog {
  private final LetheDb db;

  RequestLog(LetheDb db) {
    this.db = db;
  }

  /**
   * The answer kept under (model, request id), or null; {@code requestIds} are the ids of the
   * request asking (used only when its digest matches the stored one).
   */
  EraseSession.Answer find(String model, String requestId, List<String> requestIds) {
    byte[] v = db.get(Family.REQUESTS, Keys.of(model, requestId));
    if (v == null) {
      return null;
    }
    try {
      StoredEraseResponse s = StoredEraseResponse.parseFrom(v);
      EraseOutcomeRecord r = s.getResponse();
      List<String> already = new ArrayList<>(r.getAlreadyErasedList()); // records from before rows
      for (int row : r.getAlreadyErasedRowsList()) {
        already.add(row < requestIds.size() ? requestIds.get(row) : "");
      }
      ErasureStep step = r.getStep().isEmpty() ? ErasureStep.FULL_FISHER
          : ErasureStep.valueOf(r.getStep());
      return new EraseSession.Answer(new EraseOutcome(r.getVersion(), r.getErased(), already,
          r.getUpdateNorm(), r.getLossBefore(), r.getLossAfter(),
          new EraseOutcome.Timings(r.getGradientsMs(), r.getSolveMs(), r.getStoreMs(),
              r.getSwapMs(), r.getLeaveOutRowsMs()),
          step, r.getStepNote(), List.of(), r.getUpdateRatio()),
          s.getRequestSha256());
    } catch (InvalidProtocolBufferException e) {
      throw new StorageException("corrupt request record " + model + "/" + requestId, e);
    }
  }

  void record(LetheDb.Batch batch, String model, String requestId, String requestSha256,
      EraseOutcome o, List<String> requestIds) {
    Map<String, Integer> rowOf = new HashMap<>();
    for (int i = 0; i < requestIds.size(); i++) {
      rowOf.putIfAbsent(requestIds.get(i), i);
    }
    EraseOutcomeRecord.Builder rows = EraseOutcomeRecord.newBuilder();
    for (String id : o.alreadyErased()) {
      rows.addAlreadyErasedRows(rowOf.get(id));
    }
    EraseOutcomeRecord r = rows
        .setVersion(o.version()).setErased(o.erased())
        .setUpdateNorm(o.updateNorm()).setLossBefore(o.lossBefore()).setLossAfter(o.lossAfter())
        .setGradientsMs(o.timings().gradientsMs()).setSolveMs(o.timings().solveMs())
        .setStoreMs(o.timings().storeMs()).setSwapMs(o.timings().swapMs())
        .setLeaveOutRowsMs(o.timings().leaveOutRowsMs())
        .setStep(o.step().name()).setStepNote(o.stepNote()).setUpdateRatio(o.updateRatio())
        .build();
    batch.put(Family.REQUESTS, Keys.of(model, requestId), StoredEraseResponse.newBuilder()
        .setResponse(r).setRequestSha256(requestSha256).build().toByteArray());
  }
}
