package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.BlockSum;
import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.FisherKind;
import dev.lethe.api.v1.FisherSumsHeader;
import dev.lethe.api.v1.GradientSum;
import dev.lethe.api.v1.ModelStoreGrpc;
import dev.lethe.api.v1.PutFisherSumsRequest;
import dev.lethe.erase.EraseConfig;
import dev.lethe.fisher.BlockGrams;
import dev.lethe.fisher.BlockLayout;
import dev.lethe.fisher.FisherStore;
import dev.lethe.server.Security;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PutFisherSums through the in-process server: a well-formed stream attaches a Fisher; every
 * refusal answers its exact status code, names the field, and leaves nothing stored or attached.
 * The MLP fixture (27 parameters) in blocks of 10 (four blocks), n = 50, EMPIRICAL (one row per
 * sample), Grams n·I (so F = λI + I, positive definite).
 */
class PutFisherSumsTest {
  private static final int N = 50;
  private static final BlockLayout LAYOUT = BlockLayout.forParameters(
      List.of(new long[] {3, 4}, new long[] {3}, new long[] {3, 3}, new long[] {3}), 10);
  @TempDir Path dir;

  private ServerHarness start(Security security) throws Exception {
    ServerHarness h = new ServerHarness(new ServerConfig("127.0.0.1:0", dir,
        new StoreConfig(10, 1 << 20), 64 << 20, false, 5, EraseConfig.defaults(), 1L << 30,
        security), store -> store.put(Fixtures.spec("m").withTrainSize(N), Fixtures.mlp(1).onnx()));
    return h;
  }

  private static FisherSumsHeader.Builder header() {
    return FisherSumsHeader.newBuilder().setName("m").setVersion(1)
        .setFisherKind(FisherKind.EMPIRICAL).setStructure("block_diagonal").setSamples(N)
        .setBlockSize(10).setBlocks(LAYOUT.blockCount()).setParameters(27).setRows(N);
  }

  /** Block b's packed Gram n·I. */
  private static double[] gram(int b) {
    int size = LAYOUT.size(b);
    double[] packed = new double[BlockGrams.packedLength(size)];
    for (int i = 0, o = 0; i < size; o += size - i, i++) {
      packed[o] = N;
    }
    return packed;
  }

  private static PutFisherSumsRequest block(int b, int offset, double[] values) {
    BlockSum.Builder s = BlockSum.newBuilder().setBlock(b).setOffset(offset);
    for (double v : values) {
      s.addValues(v);
    }
    return PutFisherSumsRequest.newBuilder().setBlock(s).build();
  }

  /** A whole stream: the header (as changed), every block, and a gradient sum. */
  private static List<PutFisherSumsRequest> stream(UnaryOperator<FisherSumsHeader.Builder> change) {
    List<PutFisherSumsRequest> out = new ArrayList<>();
    out.add(PutFisherSumsRequest.newBuilder().setHeader(change.apply(header()
        .setGradientMoments(true).setGradientSquaredNorms(4.0))).build());
    for (int b = 0; b < LAYOUT.blockCount(); b++) {
      out.add(block(b, 0, gram(b)));
    }
    GradientSum.Builder g = GradientSum.newBuilder().setOffset(0);
    for (int j = 0; j < 27; j++) {
      g.addValues(0.01);
    }
    out.add(PutFisherSumsRequest.newBuilder().setGradientSum(g).build());
    return out;
  }

  static BuildFisherProgress send(ModelStoreGrpc.ModelStoreStub async,
      List<PutFisherSumsRequest> messages) throws Exception {
    try {
      return FisherStreams.stream(async::putFisherSums, messages);
    } catch (ExecutionException e) {
      throw (Exception) e.getCause();
    }
  }

  private static void refused(ServerHarness h, Status.Code code, String field,
      List<PutFisherSumsRequest> messages) {
    refused(h, h.async, code, field, messages);
  }

  private static void refused(ServerHarness h, ModelStoreGrpc.ModelStoreStub async,
      Status.Code code, String field, List<PutFisherSumsRequest> messages) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> send(async, messages));
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    assertTrue(e.getStatus().getDescription() != null
        && e.getStatus().getDescription().contains(field), e.getStatus().getDescription());
    nothingStored(h);
  }

  private static void nothingStored(ServerHarness h) {
    assertNull(h.server.store().info("m").fisher(), "a Fisher was attached");
    assertTrue(FisherStore.storedIds(h.server.database()).getOrDefault("m", Set.of()).isEmpty(),
        "a Fisher was stored: " + FisherStore.storedIds(h.server.database()));
  }

  @Test
  void refusalsNameTheFieldAndAttachNothing() throws Exception {
    try (ServerHarness h = start(Security.none())) {
      Status.Code invalid = Status.Code.INVALID_ARGUMENT;
      refused(h, invalid, "header.samples", stream(b -> b.setSamples(N - 1).setRows(N - 1)));
      refused(h, invalid, "header.blocks", stream(b -> b.setBlocks(3)));
      refused(h, invalid, "header.parameters", stream(b -> b.setParameters(26)));
      refused(h, invalid, "header.rows", stream(b -> b.setRows(2 * N)));
      refused(h, invalid, "header.fisher_kind",
          stream(b -> b.setFisherKind(FisherKind.FISHER_KIND_UNSPECIFIED)));
      refused(h, invalid, "header.version", stream(b -> b.setVersion(0)));
      refused(h, invalid, "header.monte_carlo_draws", stream(b -> b.setMonteCarloDraws(2)));
      refused(h, invalid, "header.structure", stream(b -> b.setStructure("dense")));
      // kfac/ekfac are taken (PutKroneckerSumsTest); this header announces no dense layers
      refused(h, invalid, "header.kronecker_layers", stream(b -> b.setStructure("kfac")));
      refused(h, invalid, "header.kronecker_layers", stream(b -> b.setStructure("ekfac")));
      refused(h, invalid, "header.kronecker_layers", stream(b -> b.setKroneckerLayers(2)));
      refused(h, Status.Code.NOT_FOUND, "x", stream(b -> b.setName("x")));
      refused(h, Status.Code.NOT_FOUND, "version", stream(b -> b.setVersion(9)));

      List<PutFisherSumsRequest> nan = stream(b -> b);
      double[] bad = gram(1);
      bad[2] = Double.NaN;
      nan.set(2, block(1, 0, bad));
      refused(h, invalid, "block.values", nan);

      List<PutFisherSumsRequest> twice = stream(b -> b);
      twice.add(3, block(1, 0, gram(1)));
      refused(h, invalid, "block.block", twice);

      List<PutFisherSumsRequest> missing = stream(b -> b);
      missing.remove(4);
      refused(h, invalid, "block", missing);

      List<PutFisherSumsRequest> gap = stream(b -> b);
      double[] whole = gram(0);
      gap.set(1, block(0, 0, java.util.Arrays.copyOfRange(whole, 0, 10)));
      gap.add(2, block(0, 11, java.util.Arrays.copyOfRange(whole, 11, whole.length)));
      refused(h, invalid, "block.offset", gap);

      List<PutFisherSumsRequest> indefinite = stream(b -> b);
      double[] off = gram(0);
      off[1] = 10.0 * N; // |A_01| far above the diagonal: not positive definite even with λ
      indefinite.set(1, block(0, 0, off));
      refused(h, invalid, "dampening", indefinite);

      List<PutFisherSumsRequest> noGradient = stream(b -> b);
      noGradient.remove(noGradient.size() - 1);
      refused(h, invalid, "gradient_sum", noGradient);

      List<PutFisherSumsRequest> headless = stream(b -> b);
      headless.remove(0);
      refused(h, invalid, "block", headless);
      refused(h, invalid, "header", List.of());

      // The same stream, well formed, attaches the Fisher.
      BuildFisherProgress done = send(h.async, stream(b -> b));
      assertTrue(done.getDone());
      assertEquals(N, done.getSummary().getSamples());
      assertEquals(LAYOUT.blockCount(), done.getSummary().getBlocks());
      assertEquals(done.getSummary().getFisherId(), h.server.store().info("m").fisher().fisherId());
      assertEquals(FisherKind.EMPIRICAL, done.getSummary().getFisherKind());
      // |Σ∇l / n| / sqrt(Σ|∇l|² / n): 0.01·√27/50 against sqrt(4/50)
      assertEquals(0.01 * Math.sqrt(27) / N, done.getSummary().getMeanGradientNorm(), 1e-12);
      assertEquals(Math.sqrt(4.0 / N), done.getSummary().getGradientRms(), 1e-12);
    }
  }

  @Test
  void needsAWriteToken() throws Exception {
    try (ServerHarness h = start(new Security(null, null, null, Set.of("w"), Set.of("r"), false))) {
      refused(h, Status.Code.UNAUTHENTICATED, "", stream(b -> b));
      refused(h, as(h, "r"), Status.Code.PERMISSION_DENIED, "", stream(b -> b));
      assertTrue(send(as(h, "w"), stream(b -> b)).getDone());
    }
  }

  private static ModelStoreGrpc.ModelStoreStub as(ServerHarness h, String token) {
    Metadata m = new Metadata();
    m.put(dev.lethe.grpc.TokenAuthInterceptor.AUTHORIZATION, "Bearer " + token);
    return h.async.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
  }
}
