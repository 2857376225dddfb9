package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.BuildFisherRequest;
import dev.lethe.api.v1.CalibrateScaleRequest;
import dev.lethe.api.v1.CalibrateScaleResponse;
import dev.lethe.api.v1.CalibrationPoint;
import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.EraseStep;
import dev.lethe.api.v1.FisherKind;
import dev.lethe.api.v1.FisherOptions;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.SetScaleRequest;
import dev.lethe.core.Batches;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.Samples;
import dev.lethe.erase.EraseConfig;
import dev.lethe.server.ServerConfig;
import dev.lethe.server.Security;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CalibrateScale through the real server: the curve equals dry-run erases at those ε, apply
 * writes the scale and nothing else, refusals (tokens, bad holdout, empty samples) change
 * nothing; and the convergence check of BuildFisher against a dense mean gradient.
 */
class CalibrateScaleTest {
  private static final int N = 40;
  private static final double RELATIVE = 1e-5;
  @TempDir Path dir;
  private final Fixtures.Mlp mlp = Fixtures.mlp(41);
  private final Samples train = Fixtures.batch(42, N);
  private final Samples holdout = Fixtures.batch(43, 20);

  private ServerHarness start(Security security) throws Exception {
    ServerConfig c = security == null
        ? new ServerConfig("127.0.0.1:0", dir, new StoreConfig(10, 1 << 20), 64 << 20, false, 5,
            new EraseConfig(10_000, 100.0, 64 << 20), 1L << 30)
        : new ServerConfig("127.0.0.1:0", dir, new StoreConfig(10, 1 << 20), 64 << 20, false, 5,
            new EraseConfig(10_000, 100.0, 64 << 20), 1L << 30, security);
    ServerHarness h = new ServerHarness(c, store ->
        store.put(Fixtures.spec("mlp").withTrainSize(N), mlp.onnx()));
    return h;
  }

  private BuildFisherProgress build(dev.lethe.api.v1.ModelStoreGrpc.ModelStoreStub async)
      throws Exception {
    return FisherStreams.build(async, List.of(
        BuildFisherRequest.newBuilder().setOptions(FisherOptions.newBuilder().setName("mlp")
            .setBlockSize(10).setFisherKind(FisherKind.EMPIRICAL)).build(),
        BuildFisherRequest.newBuilder().setSamples(SampleMessages.batch(train)).build()));
  }

  private CalibrateScaleRequest request(EraseStep step) {
    return CalibrateScaleRequest.newBuilder().setName("mlp").setStep(step)
        .setSamples(SampleMessages.batch(Batches.range(train, 0, 4)))
        .setHoldout(SampleMessages.batch(holdout)).build();
  }

  @Test
  void theCurveEqualsDryRunErasesAtThoseScalesAndApplyWritesOnlyTheSpec() throws Exception {
    try (ServerHarness h = start(null)) {
      build(h.async);
      for (EraseStep step : List.of(EraseStep.LEAVE_OUT, EraseStep.FULL_FISHER)) {
        ModelInfo before = EraseRpc.info(h.blocking, "mlp");
        CalibrateScaleResponse r = h.blocking.calibrateScale(request(step));
        assertEquals(step, r.getStep());
        assertEquals(31, r.getCurveCount());
        assertFalse(r.getApplied());
        assertEquals(before, EraseRpc.info(h.blocking, "mlp"), "a calibration changes nothing");
        assertTrue(r.getCurveList().stream().anyMatch(p -> p.getScale() == r.getScale()));
        for (int i : new int[] {0, 20, 30}) { // ε = 0.01, 1, 10
          CalibrationPoint p = r.getCurve(i);
          h.blocking.setScale(SetScaleRequest.newBuilder().setName("mlp").setScale(p.getScale()).build());
          EraseResponse dry = h.blocking.erase(EraseRequest.newBuilder().setName("mlp")
              .setDryRun(true).setStep(step)
              .setSamples(SampleMessages.batch(Batches.range(train, 0, 4))).build());
          assertEquals(dry.getLossAfter(), p.getErasedMeanLoss(),
              RELATIVE * Math.abs(dry.getLossAfter()), step + " ε " + p.getScale());
          assertTrue(p.getMembershipAuc() >= 0 && p.getMembershipAuc() <= 1);
        }
        // the loss of the erased samples rises with ε (the step removes their influence)
        assertTrue(r.getCurve(30).getErasedMeanLoss() > r.getCurve(0).getErasedMeanLoss());
      }
      // a "holdout" that is the erased samples themselves: their losses never differ, the
      // response says the samples are not fitted more closely than the holdout
      CalibrateScaleResponse same = h.blocking.calibrateScale(request(EraseStep.LEAVE_OUT)
          .toBuilder().setHoldout(SampleMessages.batch(Batches.range(train, 0, 4))).build());
      assertEquals(1, same.getWarningsCount(), same.getWarningsList().toString());
      assertTrue(same.getWarnings(0).startsWith("not memorised: "), same.getWarnings(0));
      assertEquals(0.01, same.getScale(), 1e-12, "the smallest ε");
      h.blocking.setScale(SetScaleRequest.newBuilder().setName("mlp").setScale(1).build());
      ModelInfo before = EraseRpc.info(h.blocking, "mlp");
      CalibrateScaleResponse applied = h.blocking.calibrateScale(request(EraseStep.LEAVE_OUT)
          .toBuilder().setApply(true).build());
      assertTrue(applied.getApplied());
      ModelInfo after = EraseRpc.info(h.blocking, "mlp");
      assertEquals(applied.getScale(), after.getSpec().getScale());
      assertEquals(before.toBuilder().setSpec(before.getSpec().toBuilder()
          .setScale(applied.getScale())).build(), after, "apply writes the scale and nothing else");
    }
  }

  @Test
  void refusalsHaveExactCodesAndChangeNothing() throws Exception {
    Security tokens = new Security(null, null, null, Set.of("w"), Set.of("r"), false);
    try (ServerHarness h = start(tokens)) {
      Metadata wm = new Metadata();
      wm.put(TokenAuthInterceptor.AUTHORIZATION, "Bearer w");
      var writer = h.blocking.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(wm));
      Metadata rm = new Metadata();
      rm.put(TokenAuthInterceptor.AUTHORIZATION, "Bearer r");
      var reader = h.blocking.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(rm));
      build(h.async.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(wm)));
      ModelInfo before = EraseRpc.info(reader, "mlp");
      CalibrateScaleRequest apply = request(EraseStep.ERASE_STEP_UNSPECIFIED).toBuilder()
          .setApply(true).build();
      record Case(Status.Code code, String text, io.grpc.stub.AbstractBlockingStub<?> stub,
          CalibrateScaleRequest request) {}
      Samples wide = new Samples(List.of(), Map.of("x",
          DenseTensor.ofFloats(new long[] {2, 5}, new float[10])), Batches.range(holdout, 0, 2).labels());
      for (Case c : List.of(
          new Case(Status.Code.UNAUTHENTICATED, "authorization", h.blocking, apply),
          new Case(Status.Code.PERMISSION_DENIED, "write token", reader, apply),
          new Case(Status.Code.INVALID_ARGUMENT, "holdout.inputs[x]", reader,
              request(EraseStep.LEAVE_OUT).toBuilder().setHoldout(SampleMessages.batch(wide)).build()),
          new Case(Status.Code.INVALID_ARGUMENT, "holdout", reader,
              request(EraseStep.LEAVE_OUT).toBuilder().clearHoldout().build()),
          new Case(Status.Code.INVALID_ARGUMENT, "samples", reader,
              request(EraseStep.LEAVE_OUT).toBuilder().clearSamples().build()),
          new Case(Status.Code.INVALID_ARGUMENT, "max_accuracy_drop", reader,
              request(EraseStep.LEAVE_OUT).toBuilder().setMaxAccuracyDrop(-1).build()),
          new Case(Status.Code.INVALID_ARGUMENT, "step", reader,
              request(EraseStep.LEAVE_OUT).toBuilder().setStepValue(9).build()))) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () ->
            ((dev.lethe.api.v1.ModelStoreGrpc.ModelStoreBlockingStub) c.stub()).calibrateScale(c.request()));
        assertEquals(c.code(), e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().contains(c.text()), e.getStatus().toString());
        assertEquals(before, EraseRpc.info(reader, "mlp"), "nothing changed: " + c.text());
      }
      // a read token may calibrate without applying; a write token may apply
      assertFalse(reader.calibrateScale(request(EraseStep.LEAVE_OUT)).getApplied());
      assertTrue(writer.calibrateScale(apply).getApplied());
    }
  }

  @Test
  void buildFisherReportsTheMeanTrainingGradientAgainstADenseComputation() throws Exception {
    try (ServerHarness h = start(null)) {
      BuildFisherProgress last = build(h.async);
      double[] mean = new double[27];
      double squares = 0;
      for (int i = 0; i < N; i++) {
        float[] x = java.util.Arrays.copyOfRange(train.inputs().get("x").floats(), i * 4, i * 4 + 4);
        double[] g = GradientsRpcTest.manualGradient(mlp, x, (int) train.labels().longs()[i], new double[1]);
        for (int j = 0; j < g.length; j++) {
          mean[j] += g[j] / N;
          squares += g[j] * g[j] / N;
        }
      }
      double norm = Math.sqrt(java.util.Arrays.stream(mean).map(v -> v * v).sum());
      var s = last.getSummary();
      assertEquals(norm, s.getMeanGradientNorm(), 1e-4 * norm);
      assertEquals(Math.sqrt(squares), s.getGradientRms(), 1e-4 * Math.sqrt(squares));
      // the fixture's weights are random, not trained: well above the threshold
      assertTrue(norm / Math.sqrt(squares) > dev.lethe.fisher.Convergence.THRESHOLD);
      assertTrue(s.getConvergenceWarning().startsWith("the model is not at a minimum"), s.toString());
      ModelInfo info = EraseRpc.info(h.blocking, "mlp");
      assertEquals(norm / Math.sqrt(squares), info.getFisherGradientRatio(), 1e-3);
      assertEquals(s.getConvergenceWarning(), info.getConvergenceWarning());
      EraseResponse r = h.blocking.erase(EraseRpc.erase("mlp", "", train, 1));
      assertTrue(r.getUpdateRatio() > 0);
      assertEquals(info.getFisherGradientRatio(), EraseRpc.info(h.blocking, "mlp")
          .getFisherGradientRatio(), 0.0, "the erase version keeps its Fisher's measurement");
    }
  }

  @Test
  void membershipAucIsTheMannWhitneyStatistic() {
    float[] members = {0.1f, 0.2f, 0.5f};
    float[] others = {0.3f, 0.5f, 0.9f, 1.0f};
    // pairs with member loss < other loss: 0.1 (4), 0.2 (4), 0.5 (2 + half a tie) = 10.5 of 12
    assertEquals(10.5 / 12, dev.lethe.erase.ScaleCalibration.membershipAuc(members, others), 1e-12);
  }
}
