package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.FisherKind;
import dev.lethe.api.v1.FisherMethod;
import dev.lethe.api.v1.FisherOptions;
import dev.lethe.api.v1.ListErasuresResponse;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.core.LetheException;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.EraseOutcome;
import dev.lethe.core.ErasureStep;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.InversionMethod;
import dev.lethe.onnx.InputSpec;
import dev.lethe.store.EraseLedger;
import dev.lethe.store.LedgerEntry;
import dev.lethe.store.ModelState;
import dev.lethe.store.VersionState;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The converters both ways: what the client reads back is what the server wrote (so the CLI
 * prints the server's message), and API enum values this server does not know are refused
 * naming their field.
 */
class MessagesTest {
  @Test
  void modelStateRoundTripsThroughModelInfo() {
    ModelState state = new ModelState("m", 2,
        List.of(new VersionState(1, 100, 1000, "upload", "ab", 10),
            new VersionState(2, 97, 2000, "erase", "cd", 10)),
        97, 26, true,
        new ModelConfig("m", LossFunction.SIGMOID_BINARY_CROSS_ENTROPY, "logits", List.of("W", "b"),
            97, 0.01, 0.02, 0.5, 16, 2),
        new long[] {3}, List.of(new InputSpec("x", true, new long[] {-1, 4}),
            new InputSpec("t", false, new long[] {-1})));
    ModelInfo info = ModelMessages.info(state);
    assertEquals(info, ModelMessages.info(ModelMessages.state(info)));
  }

  @Test
  void eraseOutcomeAndLedgerPageRoundTrip() {
    EraseOutcome outcome = new EraseOutcome(3, 2, List.of("a"), 0.5, 0.1, 0.9,
        new EraseOutcome.Timings(1, 2, 3, 4, 0.5), ErasureStep.FULL_FISHER, "LEAVE_OUT unavailable: x",
        List.of(new EraseOutcome.Preview(ErasureStep.LEAVE_OUT, Double.NaN, Double.NaN, "x"),
            new EraseOutcome.Preview(ErasureStep.FULL_FISHER, 0.5, 0.9, "")), 0.04);
    assertEquals(outcome, EraseMessages.outcome(EraseMessages.response(outcome)));
    assertEquals(dev.lethe.api.v1.EraseStep.FULL_FISHER, EraseMessages.response(outcome).getStep());
    EraseResponse response = EraseMessages.response(outcome);
    assertEquals(response, EraseMessages.response(EraseMessages.outcome(response)));
    EraseLedger.Page page = new EraseLedger.Page(
        List.of(new LedgerEntry("h", true, 2, "r1", 5, "erase"), new LedgerEntry("g", false, 1, "", 6, "unerase")),
        "next");
    assertEquals(page, EraseMessages.page(EraseMessages.erasures(page)));
  }

  @Test
  void fisherRequestsAndProgressRoundTripWithEnums() {
    for (CurvatureKind kind : new CurvatureKind[] {null, CurvatureKind.EMPIRICAL, CurvatureKind.TRUE,
        CurvatureKind.MONTE_CARLO}) {
      for (InversionMethod method : InversionMethod.values()) {
        FisherRequest r = new FisherRequest("m", kind, method, 8, 2, 3, 7, 1, 40);
        assertEquals(r, FisherMessages.request(FisherMessages.options(r)));
      }
    }
    FisherProgress p = new FisherProgress(40, 3, 3, true, new FisherProgress.Summary("v1-true-00",
        1, 40, 3, 1024, CurvatureKind.TRUE, InversionMethod.SHERMAN_MORRISON, 1.5, 2));
    BuildFisherProgress message = FisherMessages.message(p);
    assertEquals(FisherKind.TRUE, message.getSummary().getFisherKind());
    assertEquals(FisherMethod.SHERMAN_MORRISON, message.getSummary().getMethod());
    assertEquals(p, FisherMessages.progress(message));
    assertNull(FisherMessages.progress(FisherMessages.message(
        new FisherProgress(7, 0, 3, false, null))).summary());
  }

  @Test
  void unspecifiedMethodIsGramAndUnknownEnumValuesNameTheirField() {
    assertEquals(InversionMethod.GRAM,
        FisherMessages.request(FisherOptions.newBuilder().setName("m").build()).method());
    assertNull(FisherMessages.request(FisherOptions.newBuilder().setName("m").build()).kind());
    LetheException kind = assertThrows(LetheException.class, () -> FisherMessages.request(
        FisherOptions.newBuilder().setName("m").setFisherKindValue(9).build()));
    assertEquals(LetheException.Kind.INVALID_ARGUMENT, kind.kind());
    assertEquals("options.fisher_kind: unknown value 9", kind.getMessage());
    LetheException method = assertThrows(LetheException.class, () -> FisherMessages.request(
        FisherOptions.newBuilder().setName("m").setMethodValue(7).build()));
    assertEquals(LetheException.Kind.INVALID_ARGUMENT, method.kind());
    assertEquals("options.method: unknown value 7", method.getMessage());
  }

  @Test
  void emptyPageIsTheDefaultMessage() {
    assertEquals(ListErasuresResponse.getDefaultInstance(),
        EraseMessages.erasures(new EraseLedger.Page(List.of(), "")));
  }
}
