package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.BuildFisherRequest;
import dev.lethe.api.v1.FisherKind;
import dev.lethe.api.v1.FisherOptions;
import dev.lethe.api.v1.FisherStructure;
import dev.lethe.api.v1.FisherSummary;
import dev.lethe.core.Samples;
import dev.lethe.erase.EraseConfig;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A KFAC/EKFAC build measures the convergence ratio (issue 20) from the layers' inputs and
 * cotangents ({@code fisher.KroneckerMoments}); the independent computation is the
 * block-diagonal build of the same model and samples, which sums full per-sample gradients
 * (with the spec's L2 term, μ = 0.01 here). Relative tolerance 1e-5 (float32 gradients).
 */
class KroneckerConvergenceTest {
  private static final int N = 40;
  private static final double RELATIVE = 1e-5;
  @TempDir Path dir;
  private final Fixtures.Mlp mlp = Fixtures.mlp(41);
  private final Samples train = Fixtures.batch(42, N);

  @Test
  void kroneckerBuildsReportTheConvergenceTheBlockBuildMeasures() throws Exception {
    try (ServerHarness h = new ServerHarness(new ServerConfig("127.0.0.1:0", dir,
        new StoreConfig(10, 1 << 20), 64 << 20, false, 5, new EraseConfig(10_000, 100.0, 64 << 20),
        1L << 30), s -> {})) {
      for (String model : List.of("blocks", "ekfac", "kfac")) {
        h.put(ModelMessages.spec(Fixtures.spec(model).withTrainSize(N)), mlp.onnx());
      }
      for (FisherKind kind : List.of(FisherKind.TRUE, FisherKind.EMPIRICAL)) {
        FisherSummary blocks = build(h, "blocks", FisherStructure.BLOCK_DIAGONAL, kind);
        assertTrue(blocks.getGradientRms() > 0 && blocks.getMeanGradientNorm() > 0, kind.name());
        for (var e : List.of(List.of("ekfac", FisherStructure.EKFAC),
            List.of("kfac", FisherStructure.KFAC))) {
          FisherSummary k = build(h, (String) e.get(0), (FisherStructure) e.get(1), kind);
          assertEquals(e.get(1), k.getStructure());
          String what = kind + " " + e.get(1);
          assertEquals(blocks.getMeanGradientNorm(), k.getMeanGradientNorm(),
              RELATIVE * blocks.getMeanGradientNorm(), what + " |∇L_D(θ)|");
          assertEquals(blocks.getGradientRms(), k.getGradientRms(),
              RELATIVE * blocks.getGradientRms(), what + " gradient RMS");
          assertEquals(blocks.getConvergenceWarning().isEmpty(), k.getConvergenceWarning().isEmpty(),
              what + ": the same warning decision");
        }
      }
    }
  }

  private FisherSummary build(ServerHarness h, String model, FisherStructure s, FisherKind kind)
      throws Exception {
    FisherOptions o = FisherOptions.newBuilder().setName(model).setFisherKind(kind)
        .setStructure(s).setSamples(N).build();
    return new FisherStreams(h).buildFisher(List.of(
        BuildFisherRequest.newBuilder().setOptions(o).build(),
        BuildFisherRequest.newBuilder().setSamples(SampleMessages.batch(train)).build()))
        .getSummary();
  }
}
