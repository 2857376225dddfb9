package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import dev.lethe.api.v1.BuildFisherRequest;
import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.EraseStep;
import dev.lethe.api.v1.FisherKind;
import dev.lethe.api.v1.FisherOptions;
import dev.lethe.core.Batches;
import dev.lethe.core.Samples;
import dev.lethe.erase.EraseConfig;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The leave-out step of every Fisher kind through the real server, against an independent
 * computation of the same F₋S: a second, identical model whose Fisher is built by BuildFisher
 * from D∖S alone (the accumulator, not a subtraction), erased with FULL_FISHER. MONTE_CARLO
 * builds key their draws by sample id, so both draw the same labels for the samples they share.
 * Then, after a restart, a second erase from the downdated Fisher against a rebuild on D∖S₁.
 * Multi-block (block size 10 over 27 parameters).
 */
class LeaveOutKindsTest {
  private static final double RELATIVE = 1e-4;
  private static final int N = 40;
  private static final int P = 27;
  @TempDir Path dir;
  private final Fixtures.Mlp mlp = Fixtures.mlp(41);
  private final Samples train = Fixtures.batch(42, N);

  private ServerHarness start() throws Exception {
    // The fixture's weights are random, not trained: the guard is relaxed (as for TRUE elsewhere).
    return new ServerHarness(new ServerConfig("127.0.0.1:0", dir, new StoreConfig(10, 1 << 20),
        64 << 20, false, 5, new EraseConfig(10_000, 100.0, 64 << 20), 1L << 30), s -> {});
  }

  private static void build(ServerHarness h, String model, FisherKind kind, Samples samples)
      throws Exception {
    new FisherStreams(h).buildFisher(List.of(
        BuildFisherRequest.newBuilder().setOptions(FisherOptions.newBuilder().setName(model)
            .setBlockSize(10).setFisherKind(kind).setSeed(3).setSamples(samples.size())
            .setMonteCarloDraws(kind == FisherKind.MONTE_CARLO ? 4 : 0)).build(),
        BuildFisherRequest.newBuilder().setSamples(SampleMessages.batch(samples)).build()));
  }

  private static EraseResponse erase(ServerHarness h, String model, Samples s, EraseStep step,
      boolean downdate) {
    return h.blocking.erase(EraseRequest.newBuilder().setName(model).setStep(step)
        .setDowndateFisher(downdate).setSamples(SampleMessages.batch(s)).build());
  }

  private static float[] weights(ServerHarness h, String model, long version) throws Exception {
    return EraseRpc.mlpWeights(h.blocking, model, version);
  }

  private static void assertClose(float[] expected, float[] actual, float[] before, String what) {
    double diff = 0;
    double norm = 0;
    for (int j = 0; j < expected.length; j++) {
      diff += (expected[j] - actual[j]) * (double) (expected[j] - actual[j]);
      norm += (expected[j] - before[j]) * (double) (expected[j] - before[j]);
    }
    // relative to the update, so equal weights cannot hide a wrong step
    assertTrue(norm > 0 && Math.sqrt(diff / norm) <= RELATIVE,
        what + ": relative error of the update " + Math.sqrt(diff / norm));
  }

  private Samples without(int from, int to) {
    int[] rows = IntStream.range(0, N).filter(i -> i < from || i >= to).toArray();
    return Batches.rows(train, rows);
  }

  @ParameterizedTest
  @EnumSource(value = FisherKind.class, names = {"EMPIRICAL", "TRUE", "MONTE_CARLO"})
  void leaveOutEqualsTheFullStepOfAFisherBuiltWithoutTheSamples(FisherKind kind) throws Exception {
    Samples s1 = Batches.range(train, 0, 4);
    Samples s2 = Batches.range(train, 4, 7);
    float[] theta = weights(mlp);
    try (ServerHarness h = start()) {
      for (String model : List.of("a", "b")) {
        h.put(ModelMessages.spec(Fixtures.spec(model).withTrainSize(N)), mlp.onnx());
      }
      build(h, "a", kind, train);
      build(h, "b", kind, without(0, 4));
      EraseResponse a = erase(h, "a", s1, EraseStep.LEAVE_OUT, true);
      assertEquals(EraseStep.LEAVE_OUT, a.getStep());
      EraseResponse b = erase(h, "b", s1, EraseStep.FULL_FISHER, false);
      assertEquals(EraseStep.FULL_FISHER, b.getStep());
      assertClose(weights(h, "b", 2), weights(h, "a", 2), theta, kind + ", first erase");
    }
    // After a restart: a's downdated Fisher (D∖S₁, n − 4) against b's rebuild on D∖S₁, both
    // leave-out for S₂ (rows at θ*, the weights both Fishers were built at).
    try (ServerHarness h = start()) {
      float[] theta2 = weights(h, "a", 2);
      erase(h, "a", s2, EraseStep.ERASE_STEP_UNSPECIFIED, false);
      EraseResponse b = erase(h, "b", s2, EraseStep.ERASE_STEP_UNSPECIFIED, false);
      assertEquals(EraseStep.LEAVE_OUT, b.getStep());
      assertClose(weights(h, "b", 3), weights(h, "a", 3), theta2, kind + ", after the restart");
    }
  }

  private static float[] weights(Fixtures.Mlp m) {
    float[] theta = new float[P];
    System.arraycopy(m.w1(), 0, theta, 0, 12);
    System.arraycopy(m.b1(), 0, theta, 12, 3);
    System.arraycopy(m.w2(), 0, theta, 15, 9);
    System.arraycopy(m.b2(), 0, theta, 24, 3);
    return theta;
  }
}
