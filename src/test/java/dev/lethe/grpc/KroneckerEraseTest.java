package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.BuildFisherRequest;
import dev.lethe.api.v1.DeleteModelRequest;
import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.EraseStep;
import dev.lethe.api.v1.FisherInfo;
import dev.lethe.api.v1.FisherKind;
import dev.lethe.api.v1.FisherOptions;
import dev.lethe.api.v1.FisherStructure;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.core.Batches;
import dev.lethe.core.Samples;
import dev.lethe.erase.EraseConfig;
import dev.lethe.fisher.FisherStore;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import dev.lethe.torch.DeclaredFixtures;
import dev.lethe.torch.TorchScriptFixtures;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * KFAC and EKFAC Fishers through the real gRPC server: BuildFisher (structure, reason, the
 * EKFAC second pass in the progress), ModelInfo's Fisher, both erase steps, downdate_fisher,
 * a restart, deletion with the model, and refusals with their exact codes that change nothing.
 * The numerics are KroneckerFisherTest's (dense computations); here: the plumbing, and that a
 * LEAVE_OUT erase of an EKFAC Fisher equals the FULL_FISHER erase of the Fisher it downdates to.
 */
class KroneckerEraseTest {
  private static final int N = 40;
  @TempDir Path dir;
  private final Fixtures.Mlp mlp = Fixtures.mlp(41);
  private final Samples train = Fixtures.batch(42, N);

  private ServerHarness start() throws Exception {
    return new ServerHarness(new ServerConfig("127.0.0.1:0", dir, new StoreConfig(10, 1 << 20),
        64 << 20, false, 5, new EraseConfig(10_000, 100.0, 64 << 20), 1L << 30), s -> {});
  }

  private static FisherOptions.Builder options(String model, FisherStructure s) {
    return FisherOptions.newBuilder().setName(model).setFisherKind(FisherKind.TRUE)
        .setStructure(s).setSamples(N);
  }

  private BuildFisherProgress build(ServerHarness h, FisherOptions.Builder o) throws Exception {
    return new FisherStreams(h).buildFisher(List.of(
        BuildFisherRequest.newBuilder().setOptions(o).build(),
        BuildFisherRequest.newBuilder().setSamples(SampleMessages.batch(train)).build()));
  }

  private static EraseResponse erase(ServerHarness h, String model, Samples s, EraseStep step,
      boolean downdate) {
    return h.blocking.erase(EraseRequest.newBuilder().setName(model).setStep(step)
        .setDowndateFisher(downdate).setSamples(SampleMessages.batch(s)).build());
  }

  private static FisherInfo fisher(ServerHarness h, String model) {
    return EraseRpc.info(h.blocking, model).getFisher();
  }

  private static Status.Code code(Exception e) {
    Throwable t = e instanceof ExecutionException ? e.getCause() : e;
    return Status.fromThrowable(t).getCode();
  }

  @Test
  void ekfacErasesWithBothStepsDowndatesAndSurvivesARestart() throws Exception {
    Samples s1 = Batches.range(train, 0, 4);
    Samples s2 = Batches.range(train, 4, 7);
    try (ServerHarness h = start()) {
      for (String model : List.of("a", "b", "c")) {
        h.put(ModelMessages.spec(Fixtures.spec(model).withTrainSize(N)), mlp.onnx());
      }
      BuildFisherProgress done = build(h, options("a", FisherStructure.EKFAC));
      assertEquals(FisherStructure.EKFAC, done.getSummary().getStructure());
      assertEquals("requested", done.getSummary().getStructureReason());
      assertEquals(2, done.getSummary().getPasses());
      assertEquals(2, done.getPasses());
      FisherInfo a = fisher(h, "a");
      assertEquals("ekfac", a.getStructure());
      assertEquals(2, a.getKroneckerLayers());
      assertEquals(done.getSummary().getBytes(), a.getBytes());
      build(h, options("b", FisherStructure.EKFAC));
      build(h, options("c", FisherStructure.KFAC));
      assertEquals("kfac", fisher(h, "c").getStructure());
      // a: LEAVE_OUT with the downdate; b: FULL_FISHER; c: KFAC leave-out
      EraseResponse ea = erase(h, "a", s1, EraseStep.LEAVE_OUT, true);
      assertEquals(EraseStep.LEAVE_OUT, ea.getStep());
      EraseResponse eb = erase(h, "b", s1, EraseStep.FULL_FISHER, false);
      assertEquals(EraseStep.FULL_FISHER, eb.getStep());
      assertNotEquals(ea.getUpdateNorm(), eb.getUpdateNorm());
      assertTrue(ea.getUpdateNorm() > 0 && eb.getUpdateNorm() > 0);
      EraseResponse ec = erase(h, "c", s1, EraseStep.LEAVE_OUT, false);
      assertTrue(ec.getUpdateNorm() > 0);
      FisherInfo down = fisher(h, "a");
      assertEquals("ekfac", down.getStructure());
      assertTrue(down.getDowndated());
      assertEquals(N - 4, down.getSamples());
      assertNotEquals(a.getFisherId(), down.getFisherId());
    }
    try (ServerHarness h = start()) {
      assertEquals("ekfac", fisher(h, "a").getStructure());
      assertTrue(fisher(h, "a").getDowndated());
      // leave-out of S₂ from the downdated Fisher equals a FULL_FISHER step of the Fisher that
      // leave-out downdates to (EKFAC's downdate is exact in its basis)
      float[] before = EraseRpc.mlpWeights(h.blocking, "a", 2);
      EraseResponse leave = h.blocking.erase(EraseRequest.newBuilder().setName("a")
          .setStep(EraseStep.LEAVE_OUT).setDowndateFisher(true).setDryRun(true)
          .setSamples(SampleMessages.batch(s2)).build());
      assertEquals(EraseStep.LEAVE_OUT, leave.getStep());
      EraseResponse real = erase(h, "a", s2, EraseStep.ERASE_STEP_UNSPECIFIED, true);
      assertEquals(EraseStep.LEAVE_OUT, real.getStep());
      assertEquals(leave.getUpdateNorm(), real.getUpdateNorm(), 1e-9 * real.getUpdateNorm());
      assertEquals(N - 7, fisher(h, "a").getSamples());
      assertFalse(java.util.Arrays.equals(before, EraseRpc.mlpWeights(h.blocking, "a", 3)));
      // deleted with the model: no Fisher of "a" stays in the store
      assertTrue(FisherStore.storedIds(h.server.database()).containsKey("a"));
      h.blocking.deleteModel(DeleteModelRequest.newBuilder().setName("a").build());
      Map<String, Set<String>> left = FisherStore.storedIds(h.server.database());
      assertFalse(left.containsKey("a"), left.toString());
    }
  }

  @Test
  void refusalsHaveExactCodesAndChangeNothing() throws Exception {
    try (ServerHarness h = start()) {
      h.put(ModelMessages.spec(Fixtures.spec("m").withTrainSize(N)), mlp.onnx());
      build(h, options("m", FisherStructure.BLOCK_DIAGONAL));
      ModelInfo before = EraseRpc.info(h.blocking, "m");
      assertEquals("block_diagonal", before.getFisher().getStructure());
      Exception minibatch = assertThrows(Exception.class, () -> build(h,
          options("m", FisherStructure.KFAC).setFisherKind(FisherKind.EMPIRICAL).setMinibatch(4)));
      assertEquals(Status.Code.INVALID_ARGUMENT, code(minibatch));
      assertTrue(minibatch.getMessage().contains("options.minibatch"), minibatch.getMessage());
      Exception unknown = assertThrows(Exception.class, () -> build(h,
          options("m", FisherStructure.KFAC).setStructureValue(99)));
      assertEquals(Status.Code.INVALID_ARGUMENT, code(unknown));
      assertTrue(unknown.getMessage().contains("options.structure"), unknown.getMessage());
      Exception budget = assertThrows(Exception.class, () -> build(h,
          options("m", FisherStructure.AUTO).setStorageBudgetBytes(-1)));
      assertEquals(Status.Code.INVALID_ARGUMENT, code(budget));
      assertTrue(budget.getMessage().contains("options.storage_budget_bytes"), budget.getMessage());
      assertEquals(before, EraseRpc.info(h.blocking, "m"));
      // AUTO over a tiny budget picks EKFAC and says why
      BuildFisherProgress auto = build(h, options("m", FisherStructure.AUTO).setStorageBudgetBytes(1000));
      assertEquals(FisherStructure.EKFAC, auto.getSummary().getStructure());
      assertTrue(auto.getSummary().getStructureReason().contains("over the storage budget of 1000"),
          auto.getSummary().getStructureReason());
      // an erase of every sample from it is refused, nothing changed
      ModelInfo ekfac = EraseRpc.info(h.blocking, "m");
      StatusRuntimeException all = assertThrows(StatusRuntimeException.class,
          () -> erase(h, "m", train, EraseStep.LEAVE_OUT, true));
      assertEquals(Status.Code.FAILED_PRECONDITION, all.getStatus().getCode());
      assertEquals(ekfac, EraseRpc.info(h.blocking, "m"));
    }
  }

  @Test
  void torchScriptModelsRefuseKroneckerStructuresAndAutoStaysBlockDiagonal() throws Exception {
    String family = TorchScriptFixtures.FAMILIES.get(0);
    try (ServerHarness h = new ServerHarness(dir, 1 << 24)) {
      ModelInfo info = h.put(TorchScriptEndToEndTest.spec(family).build(),
          DeclaredFixtures.archive(family));
      Samples samples = TorchScriptEndToEndTest.samples(info, new java.util.Random(7));
      java.util.function.Function<FisherOptions.Builder, List<BuildFisherRequest>> stream = o -> List.of(
          BuildFisherRequest.newBuilder().setOptions(o.setSamples(samples.size())).build(),
          BuildFisherRequest.newBuilder().setSamples(SampleMessages.batch(samples)).build());
      ModelInfo before = EraseRpc.info(h.blocking, family);
      Exception refused = assertThrows(Exception.class, () -> new FisherStreams(h).buildFisher(
          stream.apply(FisherOptions.newBuilder().setName(family).setStructure(FisherStructure.EKFAC))));
      assertEquals(Status.Code.FAILED_PRECONDITION, code(refused));
      assertTrue(refused.getMessage().contains("options.structure"), refused.getMessage());
      assertEquals(before, EraseRpc.info(h.blocking, family));
      BuildFisherProgress auto = new FisherStreams(h).buildFisher(stream.apply(FisherOptions
          .newBuilder().setName(family).setStructure(FisherStructure.AUTO).setStorageBudgetBytes(1)));
      assertEquals(FisherStructure.BLOCK_DIAGONAL, auto.getSummary().getStructure());
      assertTrue(auto.getSummary().getStructureReason().contains("EKFAC is not possible"),
          auto.getSummary().getStructureReason());
      assertEquals("block_diagonal", EraseRpc.info(h.blocking, family).getFisher().getStructure());
    }
  }
}
