package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.BuildFisherRequest;
import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.EraseStep;
import dev.lethe.api.v1.FisherKind;
import dev.lethe.api.v1.FisherOptions;
import dev.lethe.api.v1.GetModelRequest;
import dev.lethe.api.v1.ListErasuresRequest;
import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.ModelChunk;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.core.Batches;
import dev.lethe.core.Samples;
import dev.lethe.fisher.BlockLayout;
import dev.lethe.testing.Fixtures;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.ejml.simple.SimpleMatrix;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * BuildFisher then Erase through gRPC, checked against a dense computation of SSSE eq. 4 with
 * gradients from a hand-written backward pass and a direct inverse of the same block-diagonal F.
 */
class EraseEndToEndTest {
  private static final double RELATIVE = 1e-4;
  private static final int N = 40;
  private static final int P = 27;
  private static final double LAMBDA = 0.01; // spec l2 = 0.01, dampening defaults to it
  @TempDir Path dir;
  private ServerHarness lethe;
  private final Fixtures.Mlp mlp = Fixtures.mlp(41);
  private final Samples train = Fixtures.batch(42, N);

  @BeforeEach
  void start() throws Exception {
    lethe = new ServerHarness(dir, 1 << 20);
    lethe.put(ModelMessages.spec(Fixtures.spec("mlp").withTrainSize(N)), mlp.onnx());
  }

  @AfterEach
  void stop() throws Exception {
    lethe.close();
  }

  List<BuildFisherProgress> buildFisher(List<BuildFisherRequest> messages) throws Exception {
    CompletableFuture<List<BuildFisherProgress>> done = new CompletableFuture<>();
    List<BuildFisherProgress> seen = new ArrayList<>();
    StreamObserver<BuildFisherRequest> up = lethe.async.buildFisher(new StreamObserver<>() {
      @Override
      public void onNext(BuildFisherProgress value) {
        seen.add(value);
      }

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        done.complete(seen);
      }
    });
    messages.forEach(up::onNext);
    up.onCompleted();
    try {
      return done.get(60, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw (Exception) e.getCause();
    }
  }

  static BuildFisherRequest options(FisherOptions.Builder o) {
    return BuildFisherRequest.newBuilder().setOptions(o).build();
  }

  static BuildFisherRequest samples(Samples b) {
    return BuildFisherRequest.newBuilder().setSamples(SampleMessages.batch(b)).build();
  }

  private float[] weights(long version) throws Exception {
    return EraseRpc.mlpWeights(lethe.blocking, "mlp", version);
  }

  /** The MLP with weights theta (spec order W1, b1, W2, b2). */
  private static Fixtures.Mlp with(float[] theta) {
    return new Fixtures.Mlp(java.util.Arrays.copyOfRange(theta, 0, 12),
        java.util.Arrays.copyOfRange(theta, 12, 15), java.util.Arrays.copyOfRange(theta, 15, 24),
        java.util.Arrays.copyOfRange(theta, 24, 27), null);
  }

  private static double[] gradient(Fixtures.Mlp m, Samples b, int row) {
    float[] x = java.util.Arrays.copyOfRange(b.inputs().get("x").floats(), row * 4, row * 4 + 4);
    return GradientsRpcTest.manualGradient(m, x, (int) b.labels().longs()[row], new double[1]);
  }

  /** Dense eq. 4: θ + ε/(n−k) F⁻¹ Σ_{S} g, F block-diagonal over {@code layout}, from θ*'s gradients. */
  private static double[] ssse(float[] theta, double[][] fisherGradients, Fixtures.Mlp current,
      Samples forget, long n, BlockLayout layout) {
    double[] sum = new double[P];
    for (int i = 0; i < forget.size(); i++) {
      double[] g = gradient(current, forget, i);
      for (int j = 0; j < P; j++) {
        sum[j] += g[j];
      }
    }
    double[] out = new double[P];
    int k = forget.size();
    for (int b = 0; b < layout.blockCount(); b++) {
      int s = layout.start(b);
      int size = layout.size(b);
      SimpleMatrix f = SimpleMatrix.identity(size).scale(LAMBDA);
      for (double[] g : fisherGradients) {
        SimpleMatrix col = new SimpleMatrix(size, 1);
        for (int r = 0; r < size; r++) {
          col.set(r, 0, g[s + r]);
        }
        f = f.plus(col.mult(col.transpose()).scale(1.0 / fisherGradients.length));
      }
      SimpleMatrix v = new SimpleMatrix(size, 1);
      for (int r = 0; r < size; r++) {
        v.set(r, 0, sum[s + r]);
      }
      SimpleMatrix u = f.invert().mult(v);
      for (int r = 0; r < size; r++) {
        out[s + r] = theta[s + r] + 1.0 / (n - k) * u.get(r, 0);
      }
    }
    return out;
  }

  private static void assertClose(double[] expected, float[] actual) {
    double diff = 0;
    double norm = 0;
    for (int j = 0; j < expected.length; j++) {
      diff += (expected[j] - actual[j]) * (expected[j] - actual[j]);
      norm += expected[j] * expected[j];
    }
    assertTrue(Math.sqrt(diff / norm) <= RELATIVE, "relative error " + Math.sqrt(diff / norm));
  }

  @Test
  void erasesMatchDenseEquationFourSequentially() throws Exception {
    List<BuildFisherProgress> progress = buildFisher(List.of(
        options(FisherOptions.newBuilder().setName("mlp").setBlockSize(10)
            .setFisherKind(FisherKind.EMPIRICAL)),
        samples(Batches.range(train, 0, 25)), samples(Batches.range(train, 25, N))));
    BuildFisherProgress last = progress.get(progress.size() - 1);
    assertTrue(last.getDone());
    assertEquals(N, last.getSamplesSeen());
    assertEquals(last.getBlocksTotal(), last.getBlocksDone());
    assertEquals(1, last.getSummary().getVersion());
    assertTrue(lethe.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModels(0).getFisherReady());

    BlockLayout layout = BlockLayout.forParameters(
        List.of(new long[] {3, 4}, new long[] {3}, new long[] {3, 3}, new long[] {3}), 10);
    assertEquals(layout.blockCount(), last.getBlocksTotal());
    float[] theta1 = weights(1);
    double[][] fisher = new double[N][];
    for (int i = 0; i < N; i++) {
      fisher[i] = gradient(mlp, train, i);
    }

    Samples forget = Batches.range(train, 0, 5);
    EraseResponse first = lethe.blocking.erase(EraseRequest.newBuilder().setName("mlp")
        .setStep(EraseStep.FULL_FISHER)
        .setRequestId("r1").setSamples(SampleMessages.batch(forget)).build());
    assertEquals(EraseStep.FULL_FISHER, first.getStep());
    assertEquals(2, first.getVersion());
    assertEquals(5, first.getErased());
    assertClose(ssse(theta1, fisher, mlp, forget, N, layout), weights(2));
    assertTrue(first.getLossAfter() > first.getLossBefore(), "erased samples' loss should rise");
    assertTrue(first.getUpdateNorm() > 0);

    // Sequential: gradients at the current weights, n reduced by the first erase.
    float[] theta2 = weights(2);
    Samples forget2 = Batches.range(train, 3, 8); // s3, s4 already erased
    EraseResponse second = lethe.blocking.erase(EraseRequest.newBuilder().setName("mlp")
        .setStep(EraseStep.FULL_FISHER)
        .setSamples(SampleMessages.batch(forget2)).setExpectedVersion(2).build());
    assertEquals(List.of("s3", "s4"), second.getAlreadyErasedList());
    assertEquals(3, second.getErased());
    assertClose(ssse(theta2, fisher, with(theta2), Batches.range(train, 5, 8), N - 5, layout), weights(3));
    ModelInfo info = lethe.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModels(0);
    assertEquals(N - 8, info.getTrainSize());
    assertTrue(info.getFisherReady(), "the Fisher carries over to erase versions");

    // Idempotent replay: the first answer, nothing new.
    EraseResponse replay = lethe.blocking.erase(EraseRequest.newBuilder().setName("mlp")
        .setStep(EraseStep.FULL_FISHER)
        .setRequestId("r1").setSamples(SampleMessages.batch(forget)).build());
    assertEquals(EraseStep.FULL_FISHER, replay.getStep());
    assertEquals(first.getVersion(), replay.getVersion());
    assertEquals(first.getUpdateNorm(), replay.getUpdateNorm());
    assertEquals(3, lethe.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModels(0).getActiveVersion());
    StatusRuntimeException reused = assertThrows(StatusRuntimeException.class, () ->
        lethe.blocking.erase(EraseRequest.newBuilder().setName("mlp").setRequestId("r1")
            .setSamples(SampleMessages.batch(forget2)).build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, reused.getStatus().getCode());
    assertEquals(8, lethe.blocking.listErasures(ListErasuresRequest.newBuilder().setName("mlp").build())
        .getErasuresCount());

    // A dry run reports and changes nothing.
    EraseResponse dry = lethe.blocking.erase(EraseRequest.newBuilder().setName("mlp").setDryRun(true)
        .setSamples(SampleMessages.batch(Batches.range(train, 10, 12))).build());
    assertEquals(3, dry.getVersion());
    assertEquals(2, dry.getErased());
    assertEquals(EraseStep.LEAVE_OUT, dry.getStep());
    assertEquals(2, dry.getPreviewsCount(), "a dry run previews both steps");
    assertEquals(dry.getUpdateNorm(), dry.getPreviews(0).getUpdateNorm());
    assertTrue(dry.getPreviews(1).getUpdateNorm() > 0
        && dry.getPreviews(1).getUpdateNorm() != dry.getUpdateNorm());
    assertEquals(3, lethe.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModels(0).getActiveVersion());
  }

  @Test
  void aBudgetOfOneBlockBuildsInSeveralPassesOverASpillAndOneSampleChunksGiveTheSameErase()
      throws Exception {
    lethe.close();
    // 2 KiB holds one or two blocks' Gram accumulators (at most 12 x 12 doubles each), so the
    // build makes several passes over the spilled samples; and a 1-byte gradient chunk makes the
    // erase sum its gradients one sample at a time (in double) before the solve.
    Path spillDir = dir.resolve("multi").resolve("tmp");
    lethe = new ServerHarness(new dev.lethe.server.ServerConfig("127.0.0.1:0", dir.resolve("multi"),
        new dev.lethe.store.StoreConfig(10, 1 << 20), 64 << 20, false, 5,
        new dev.lethe.erase.EraseConfig(10_000, 1.0, 1), 2048), s -> {});
    lethe.put(ModelMessages.spec(Fixtures.spec("mlp").withTrainSize(N)), mlp.onnx());
    List<BuildFisherProgress> progress = buildFisher(List.of(
        options(FisherOptions.newBuilder().setName("mlp").setBlockSize(10)
            .setFisherKind(FisherKind.EMPIRICAL)),
        samples(Batches.range(train, 0, 17)), samples(Batches.range(train, 17, N))));
    BuildFisherProgress last = progress.get(progress.size() - 1);
    assertTrue(last.getSummary().getPasses() > 1, "passes: " + last.getSummary().getPasses());
    assertEquals(last.getBlocksTotal(), last.getBlocksDone());
    try (var left = java.nio.file.Files.list(spillDir)) {
      assertEquals(0, left.count(), "the sample spill is deleted after the build");
    }
    BlockLayout layout = BlockLayout.forParameters(
        List.of(new long[] {3, 4}, new long[] {3}, new long[] {3, 3}, new long[] {3}), 10);
    double[][] fisher = new double[N][];
    for (int i = 0; i < N; i++) {
      fisher[i] = gradient(mlp, train, i);
    }
    Samples forget = Batches.range(train, 0, 5);
    EraseResponse r = lethe.blocking.erase(EraseRequest.newBuilder().setName("mlp")
        .setSamples(SampleMessages.batch(forget)).build());
    // the default step, eq. 1: F of the samples kept (its rows also made in several passes)
    assertEquals(EraseStep.LEAVE_OUT, r.getStep());
    assertClose(ssse(weights(1), rows(5, N), mlp, forget, N, layout), weights(2));
  }

  /** θ*'s gradients of the training samples [from, to). */
  private double[][] rows(int from, int to) {
    double[][] g = new double[to - from][];
    for (int i = from; i < to; i++) {
      g[i - from] = gradient(mlp, train, i);
    }
    return g;
  }

  /** θ*'s gradients of the training samples [0, N) except [from, to). */
  private double[][] rowsWithout(int from, int to) {
    double[][] g = new double[N - (to - from)][];
    for (int i = 0, j = 0; i < N; i++) {
      if (i < from || i >= to) {
        g[j++] = gradient(mlp, train, i);
      }
    }
    return g;
  }

  @Test
  void leaveOutErasesMatchDenseEquationOneSequentially() throws Exception {
    buildFisher(List.of(options(FisherOptions.newBuilder().setName("mlp").setBlockSize(10)
        .setFisherKind(FisherKind.EMPIRICAL)), samples(train)));
    BlockLayout layout = BlockLayout.forParameters(
        List.of(new long[] {3, 4}, new long[] {3}, new long[] {3, 3}, new long[] {3}), 10);
    Samples forget = Batches.range(train, 0, 5);
    EraseResponse first = lethe.blocking.erase(EraseRequest.newBuilder().setName("mlp")
        .setSamples(SampleMessages.batch(forget)).build());
    assertEquals(EraseStep.LEAVE_OUT, first.getStep());
    assertEquals("", first.getStepNote());
    // eq. 1: F₋S = λI + 1/(n−k) Σ_{D∖S} g gᵀ, g at θ* (dense, from a hand-written backward pass)
    assertClose(ssse(weights(1), rowsWithout(0, 5), mlp, forget, N, layout), weights(2));
    // Sequential, without downdate: the Fisher still covers D; S₂'s rows are made at θ* (the
    // weights the Fisher was built at), the step's gradients at θ₂, n = N − 5.
    float[] theta2 = weights(2);
    Samples forget2 = Batches.range(train, 5, 8);
    lethe.blocking.erase(EraseRequest.newBuilder().setName("mlp")
        .setSamples(SampleMessages.batch(forget2)).build());
    assertClose(ssse(theta2, rowsWithout(5, 8), with(theta2), forget2, N - 5, layout), weights(3));
    // An explicit LEAVE_OUT on a mini-batch Fisher is refused, nothing changes; the default
    // falls back to FULL_FISHER and says why.
    buildFisher(List.of(options(FisherOptions.newBuilder().setName("mlp").setBlockSize(10)
        .setMinibatch(4)), samples(Batches.range(train, 0, 32))));
    long active = EraseRpc.info(lethe.blocking, "mlp").getActiveVersion();
    StatusRuntimeException refused = assertThrows(StatusRuntimeException.class, () ->
        lethe.blocking.erase(EraseRequest.newBuilder().setName("mlp").setStep(EraseStep.LEAVE_OUT)
            .setSamples(SampleMessages.batch(Batches.range(train, 10, 12))).build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, refused.getStatus().getCode());
    assertTrue(refused.getStatus().getDescription().contains("mini-batches of 4"),
        refused.getStatus().getDescription());
    assertEquals(active, EraseRpc.info(lethe.blocking, "mlp").getActiveVersion());
    EraseResponse fallback = lethe.blocking.erase(EraseRequest.newBuilder().setName("mlp")
        .setSamples(SampleMessages.batch(Batches.range(train, 10, 12))).build());
    assertEquals(EraseStep.FULL_FISHER, fallback.getStep());
    assertTrue(fallback.getStepNote().startsWith("LEAVE_OUT unavailable: the Fisher averages"),
        fallback.getStepNote());
    assertEquals(active + 1, fallback.getVersion());
  }

  @Test
  void aBuildThatNamesNoKindIsTrueOrEmpiricalWhenMiniBatchesAreAveraged() throws Exception {
    List<BuildFisherProgress> plain = buildFisher(List.of(
        options(FisherOptions.newBuilder().setName("mlp").setBlockSize(10)), samples(train)));
    assertEquals(FisherKind.TRUE,
        plain.get(plain.size() - 1).getSummary().getFisherKind());
    List<BuildFisherProgress> averaged = buildFisher(List.of(
        options(FisherOptions.newBuilder().setName("mlp").setBlockSize(10).setMinibatch(4)),
        samples(train)));
    assertEquals(FisherKind.EMPIRICAL,
        averaged.get(averaged.size() - 1).getSummary().getFisherKind());
  }

  @Test
  void trueAndMonteCarloFishersBuildThroughTheRpcAndServeErases() throws Exception {
    lethe.close();
    // The fixture's weights are random, not trained: without the gradients' μθ terms the
    // Gauss–Newton F is small and the step is large, so the guard is relaxed for this test.
    lethe = new ServerHarness(new dev.lethe.server.ServerConfig("127.0.0.1:0", dir.resolve("kinds"),
        new dev.lethe.store.StoreConfig(10, 1 << 20), 64 << 20, false, 5,
        new dev.lethe.erase.EraseConfig(10_000, 100.0, 64 << 20), 1L << 30), s -> {});
    lethe.put(ModelMessages.spec(Fixtures.spec("mlp").withTrainSize(N)), mlp.onnx());
    for (FisherKind kind : List.of(FisherKind.MONTE_CARLO,
        FisherKind.TRUE)) {
      List<BuildFisherProgress> progress = buildFisher(List.of(
          options(FisherOptions.newBuilder().setName("mlp").setBlockSize(10).setFisherKind(kind)
              .setMonteCarloDraws(kind == FisherKind.MONTE_CARLO ? 4 : 0)
              .setSeed(3)),
          samples(train)));
      BuildFisherProgress last = progress.get(progress.size() - 1);
      assertEquals(kind, last.getSummary().getFisherKind());
      assertEquals(N, last.getSummary().getSamples());
    }
    // The last build (TRUE) replaced the MONTE_CARLO one on version 1; an erase uses it.
    EraseResponse r = lethe.blocking.erase(EraseRequest.newBuilder().setName("mlp")
        .setSamples(SampleMessages.batch(Batches.range(train, 0, 3))).build());
    assertEquals(2, r.getVersion());
    assertTrue(r.getUpdateNorm() > 0 && Double.isFinite(r.getUpdateNorm()));
    java.util.Set<String> ids = new java.util.TreeSet<>();
    lethe.server.database().scan(dev.lethe.storage.Family.FISHER, new byte[0], (k, v) ->
        ids.add(new String(k, java.nio.charset.StandardCharsets.UTF_8).split("\0")[1]));
    assertEquals(1, ids.size(), "the replaced Fisher is deleted: " + ids);
    assertTrue(ids.iterator().next().contains("true"), ids.toString());
  }

  @Test
  void downdatedFisherEqualsARebuildWithoutTheErasedSamples() throws Exception {
    buildFisher(List.of(options(FisherOptions.newBuilder().setName("mlp").setBlockSize(10)
            .setFisherKind(FisherKind.EMPIRICAL)),
        samples(train)));
    Samples forget = Batches.range(train, 0, 4);
    EraseResponse r = lethe.blocking.erase(EraseRequest.newBuilder().setName("mlp")
        .setDowndateFisher(true).setSamples(SampleMessages.batch(forget)).build());
    assertEquals(2, r.getVersion());
    // The next erase uses F of D∖S (its gradients at θ*) : check against the dense form.
    float[] theta2 = weights(2);
    BlockLayout layout = BlockLayout.forParameters(
        List.of(new long[] {3, 4}, new long[] {3}, new long[] {3, 3}, new long[] {3}), 10);
    double[][] rest = new double[N - 4][];
    for (int i = 4; i < N; i++) {
      rest[i - 4] = gradient(mlp, train, i);
    }
    Samples forget2 = Batches.range(train, 4, 6);
    lethe.blocking.erase(EraseRequest.newBuilder().setName("mlp").setStep(EraseStep.FULL_FISHER)
        .setSamples(SampleMessages.batch(forget2)).build());
    assertClose(ssse(theta2, rest, with(theta2), forget2, N - 4, layout), weights(3));
    // LEAVE_OUT from the downdated Fisher: F over D∖S₁∖S₃, rows still at θ*
    float[] theta3 = weights(3);
    Samples forget3 = Batches.range(train, 6, 9);
    lethe.blocking.erase(EraseRequest.newBuilder().setName("mlp")
        .setSamples(SampleMessages.batch(forget3)).build());
    double[][] rest3 = new double[N - 7][];
    for (int i = 4, j = 0; i < N; i++) {
      if (i < 6 || i >= 9) {
        rest3[j++] = gradient(mlp, train, i);
      }
    }
    assertClose(ssse(theta3, rest3, with(theta3), forget3, N - 6, layout), weights(4));
  }

  @Test
  void buildFisherErrorsHaveExactCodesAndStoreNothing() throws Exception {
    record Case(Status.Code code, String field, List<BuildFisherRequest> messages) {}
    Samples bad = new Samples(train.ids(), java.util.Map.of("x",
        dev.lethe.core.DenseTensor.ofFloats(new long[] {N, 5}, new float[N * 5])), train.labels());
    for (Case c : List.of(
        new Case(Status.Code.NOT_FOUND, "nope", List.of(options(FisherOptions.newBuilder().setName("nope")))),
        new Case(Status.Code.INVALID_ARGUMENT, "samples", List.of(samples(train))),
        new Case(Status.Code.INVALID_ARGUMENT, "options", List.of()),
        new Case(Status.Code.INVALID_ARGUMENT, "samples.inputs[x]",
            List.of(options(FisherOptions.newBuilder().setName("mlp")), samples(bad))),
        new Case(Status.Code.INVALID_ARGUMENT, "samples",
            List.of(options(FisherOptions.newBuilder().setName("mlp")), samples(Batches.range(train, 0, 10)))),
        new Case(Status.Code.INVALID_ARGUMENT, "options",
            List.of(options(FisherOptions.newBuilder().setName("mlp")),
                options(FisherOptions.newBuilder().setName("mlp")))),
        new Case(Status.Code.INVALID_ARGUMENT, "options.minibatch: ",
            List.of(options(FisherOptions.newBuilder().setName("mlp").setMinibatch(4)
                .setFisherKind(FisherKind.TRUE)))),
        new Case(Status.Code.INVALID_ARGUMENT, "options.monte_carlo_draws: ",
            List.of(options(FisherOptions.newBuilder().setName("mlp").setMonteCarloDraws(3)
                .setFisherKind(FisherKind.EMPIRICAL)))),
        new Case(Status.Code.INVALID_ARGUMENT, "options.block_size",
            List.of(options(FisherOptions.newBuilder().setName("mlp").setBlockSize(-1)))),
        new Case(Status.Code.INVALID_ARGUMENT, "options.fisher_kind: unknown value 9",
            List.of(options(FisherOptions.newBuilder().setName("mlp").setFisherKindValue(9)))),
        new Case(Status.Code.INVALID_ARGUMENT, "options.method: unknown value 7",
            List.of(options(FisherOptions.newBuilder().setName("mlp").setMethodValue(7)))),
        new Case(Status.Code.NOT_FOUND, "version 9",
            List.of(options(FisherOptions.newBuilder().setName("mlp").setVersion(9)))))) {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> buildFisher(c.messages()));
      assertEquals(c.code(), e.getStatus().getCode(), e.getStatus().toString());
      assertTrue(e.getStatus().getDescription().contains(c.field()), e.getStatus().getDescription());
      assertFalse(lethe.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModels(0).getFisherReady());
      assertEquals(0, countFisherKeys(), "nothing of a Fisher is left in the store");
    }
  }

  private int countFisherKeys() {
    int[] count = {0};
    lethe.server.database().scan(dev.lethe.storage.Family.FISHER, new byte[0], (k, v) -> count[0]++);
    return count[0];
  }
}
