package dev.lethe.grpc;

import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.EraseStep;
import dev.lethe.api.v1.StepPreview;
import dev.lethe.core.ErasureStep;
import dev.lethe.core.LetheException;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.EraseTimings;
import dev.lethe.api.v1.CheckErasureResponse;
import dev.lethe.api.v1.Erasure;
import dev.lethe.api.v1.ErasureStatus;
import dev.lethe.api.v1.ListErasuresResponse;
import dev.lethe.erase.EraseCommand;
import dev.lethe.core.EraseOutcome;
import dev.lethe.store.EraseLedger;
import dev.lethe.store.ErasureCheck;
import dev.lethe.store.LedgerEntry;
import java.util.List;

/**
 * Erase's messages between the API and the domain, both ways: {@link EraseRequest} ⇄
 * {@link EraseCommand}, {@link EraseResponse} ⇄ {@link EraseOutcome}, and a page of the erasure
 * ledger ({@link ListErasuresResponse} ⇄ {@link EraseLedger.Page}). The server uses one
 * direction, the client (dev.lethe.client) the other. Stateless and thread-safe.
 */
public final class EraseMessages {
  private EraseMessages() {}

  static EraseCommand command(EraseRequest r) {
    return new EraseCommand(r.getName(), r.getRequestId(),
        SampleMessages.required(r.hasSamples(), r.getSamples()), r.getDryRun(),
        r.getExpectedVersion(), r.getDowndateFisher(),
        new EraseStepField(r.getStep(), r.getStepValue()).domain());
  }

  /** The client's side of {@link #command(EraseRequest)}. */
  public static EraseRequest request(EraseCommand c) {
    return EraseRequest.newBuilder()
        .setName(c.name())
        .setRequestId(c.requestId())
        .setSamples(SampleMessages.batch(c.samples()))
        .setDryRun(c.dryRun())
        .setExpectedVersion(c.expectedVersion())
        .setDowndateFisher(c.downdateFisher())
        .setStep(EraseStepField.message(c.step()))
        .build();
  }

  public static EraseResponse response(EraseOutcome o) {
    EraseResponse.Builder b = EraseResponse.newBuilder()
        .setVersion(o.version())
        .setErased(o.erased())
        .addAllAlreadyErased(o.alreadyErased())
        .setUpdateNorm(o.updateNorm())
        .setLossBefore(o.lossBefore())
        .setLossAfter(o.lossAfter())
        .setTimings(EraseTimings.newBuilder()
            .setGradientsMs(o.timings().gradientsMs())
            .setSolveMs(o.timings().solveMs())
            .setStoreMs(o.timings().storeMs())
            .setSwapMs(o.timings().swapMs())
            .setLeaveOutRowsMs(o.timings().leaveOutRowsMs()))
        .setStep(EraseStepField.message(o.step()))
        .setStepNote(o.stepNote())
        .setUpdateRatio(o.updateRatio());
    for (EraseOutcome.Preview p : o.previews()) {
      b.addPreviews(StepPreview.newBuilder().setStep(EraseStepField.message(p.step()))
          .setUpdateNorm(p.updateNorm()).setLossAfter(p.lossAfter())
          .setUnavailable(p.unavailable()));
    }
    return b.build();
  }

  /** The client's side of {@link #response(EraseOutcome)}. */
  public static EraseOutcome outcome(EraseResponse r) {
    EraseTimings t = r.getTimings();
    return new EraseOutcome(r.getVersion(), r.getErased(), List.copyOf(r.getAlreadyErasedList()),
        r.getUpdateNorm(), r.getLossBefore(), r.getLossAfter(),
        new EraseOutcome.Timings(t.getGradientsMs(), t.getSolveMs(), t.getStoreMs(),
            t.getSwapMs(), t.getLeaveOutRowsMs()),
        EraseStepField.domain(r.getStep()), r.getStepNote(),
        r.getPreviewsList().stream().map(p -> new EraseOutcome.Preview(EraseStepField.domain(p.getStep()),
            p.getUpdateNorm(), p.getLossAfter(), p.getUnavailable())).toList(),
        r.getUpdateRatio());
  }

  public static ListErasuresResponse erasures(EraseLedger.Page page) {
    ListErasuresResponse.Builder b = ListErasuresResponse.newBuilder()
        .setNextPageToken(page.nextPageToken());
    for (LedgerEntry e : page.entries()) {
      Erasure.Builder erasure = Erasure.newBuilder();
      if (e.keyed()) {
        erasure.setIdHmac(e.idKey());
      } else {
        legacyKey(erasure, e.idKey());
      }
      b.addErasures(erasure
          .setVersion(e.version())
          .setRequestId(e.requestId())
          .setUnixMs(e.unixMs())
          .setEvent(e.event()));
    }
    return b.build();
  }

  /** The client's side of {@link #erasures(EraseLedger.Page)}. */
  public static EraseLedger.Page page(ListErasuresResponse r) {
    return new EraseLedger.Page(r.getErasuresList().stream().map(e -> new LedgerEntry(
        e.getIdHmac().isEmpty() ? legacyKey(e) : e.getIdHmac(), !e.getIdHmac().isEmpty(),
        e.getVersion(), e.getRequestId(), e.getUnixMs(), e.getEvent())).toList(),
        r.getNextPageToken());
  }

  @SuppressWarnings("deprecation")
  private static void legacyKey(Erasure.Builder b, String sha) {
    b.setIdSha256(sha);
  }

  @SuppressWarnings("deprecation")
  private static String legacyKey(Erasure e) {
    return e.getIdSha256();
  }

  public static CheckErasureResponse checks(List<ErasureCheck> checks) {
    CheckErasureResponse.Builder b = CheckErasureResponse.newBuilder();
    for (ErasureCheck c : checks) {
      b.addStatuses(ErasureStatus.newBuilder().setId(c.id()).setErased(c.erased())
          .setVersion(c.version()).setRequestId(c.requestId()).setUnixMs(c.unixMs())
          .setLastEvent(c.lastEvent()));
    }
    return b.build();
  }

  /** The client's side of {@link #checks}. */
  public static List<ErasureCheck> checks(CheckErasureResponse r) {
    return r.getStatusesList().stream().map(s -> new ErasureCheck(s.getId(), s.getErased(),
        s.getVersion(), s.getRequestId(), s.getUnixMs(), s.getLastEvent())).toList();
  }
}
