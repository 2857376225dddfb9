package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.FisherKind;
import dev.lethe.api.v1.FisherStructure;
import dev.lethe.api.v1.FisherSumsHeader;
import dev.lethe.api.v1.KroneckerSum;
import dev.lethe.api.v1.KroneckerSumPart;
import dev.lethe.api.v1.PutFisherSumsRequest;
import dev.lethe.erase.EraseConfig;
import dev.lethe.fisher.FisherStore;
import dev.lethe.server.Security;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PutFisherSums for KFAC and EKFAC through the in-process server. The MLP fixture's two dense
 * layers (W1 [3, 4] with b1 folded in: c = 5, out = 3; W2 [3, 3] with b2: c = 4, out = 3; no other
 * parameters, so no blocks), n = 50, EMPIRICAL: factor sums n·I, the identity as both bases (it
 * diagonalises them) and second-moment sums n. Well-formed streams attach a Fisher; every refusal
 * (a bad basis, a missing layer, NaN, a wrong shape, parts a structure does not take) answers
 * INVALID_ARGUMENT naming the field and leaves nothing stored or attached.
 */
class PutKroneckerSumsTest {
  private static final int N = 50;
  private static final int[] COLUMNS = {5, 4};
  private static final int[] OUT = {3, 3};
  @TempDir Path dir;

  private ServerHarness start() throws Exception {
    return new ServerHarness(new ServerConfig("127.0.0.1:0", dir, new StoreConfig(10, 1 << 20),
        64 << 20, false, 5, EraseConfig.defaults(), 1L << 30, Security.none()),
        store -> store.put(Fixtures.spec("m").withTrainSize(N), Fixtures.mlp(1).onnx()));
  }

  private static FisherSumsHeader.Builder header(String structure) {
    return FisherSumsHeader.newBuilder().setName("m").setVersion(1)
        .setFisherKind(FisherKind.EMPIRICAL).setStructure(structure).setSamples(N)
        .setBlockSize(10).setBlocks(0).setParameters(27).setRows(N).setKroneckerLayers(2);
  }

  private static double[] packedIdentity(int b, double scale) {
    double[] p = new double[b * (b + 1) / 2];
    for (int i = 0, o = 0; i < b; o += b - i, i++) {
      p[o] = scale;
    }
    return p;
  }

  private static double[] identity(int b, double scale) {
    double[] m = new double[b * b];
    for (int i = 0; i < b; i++) {
      m[i * b + i] = scale;
    }
    return m;
  }

  private static double[] filled(int length, double v) {
    double[] m = new double[length];
    java.util.Arrays.fill(m, v);
    return m;
  }

  static PutFisherSumsRequest part(int layer, KroneckerSumPart part, long offset, double[] values) {
    KroneckerSum.Builder k = KroneckerSum.newBuilder().setLayer(layer).setPart(part)
        .setOffset(offset);
    for (double v : values) {
      k.addValues(v);
    }
    return PutFisherSumsRequest.newBuilder().setKroneckerSum(k).build();
  }

  /** A whole stream: the header (as changed), then per layer its parts (EKFAC: 5, KFAC: 2). */
  private static List<PutFisherSumsRequest> stream(String structure,
      UnaryOperator<FisherSumsHeader.Builder> change) {
    List<PutFisherSumsRequest> out = new ArrayList<>();
    out.add(PutFisherSumsRequest.newBuilder().setHeader(change.apply(header(structure))).build());
    for (int l = 0; l < 2; l++) {
      int c = COLUMNS[l];
      int o = OUT[l];
      out.add(part(l, KroneckerSumPart.INPUT_FACTOR_SUM, 0, packedIdentity(c, N)));
      out.add(part(l, KroneckerSumPart.OUTPUT_FACTOR_SUM, 0, packedIdentity(o, N)));
      if (structure.equals("ekfac")) {
        out.add(part(l, KroneckerSumPart.INPUT_BASIS, 0, identity(c, 1)));
        out.add(part(l, KroneckerSumPart.OUTPUT_BASIS, 0, identity(o, 1)));
        out.add(part(l, KroneckerSumPart.SECOND_MOMENT_SUM, 0, filled(o * c, N)));
      }
    }
    return out;
  }

  private static void refused(ServerHarness h, String field, List<PutFisherSumsRequest> messages) {
    refused(h, field, "", messages);
  }

  private static void refused(ServerHarness h, String field, String says,
      List<PutFisherSumsRequest> messages) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> PutFisherSumsTest.send(h.async, messages));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.getStatus().toString());
    assertTrue(e.getStatus().getDescription() != null
        && e.getStatus().getDescription().startsWith(field)
        && e.getStatus().getDescription().contains(says), e.getStatus().getDescription());
    assertNull(h.server.store().info("m").fisher(), "a Fisher was attached");
    assertTrue(FisherStore.storedIds(h.server.database()).getOrDefault("m", Set.of()).isEmpty(),
        "a Fisher was stored: " + FisherStore.storedIds(h.server.database()));
  }

  /** The EKFAC stream with message {@code index} replaced by {@code m}. */
  private static List<PutFisherSumsRequest> ekfacWith(int index, PutFisherSumsRequest m) {
    List<PutFisherSumsRequest> s = stream("ekfac", b -> b);
    s.set(index, m);
    return s;
  }

  @Test
  void kroneckerRefusalsNameTheFieldAndAttachNothing() throws Exception {
    try (ServerHarness h = start()) {
      // header: the layers, the blocks (of the parameters outside the layers), n
      refused(h, "header.kronecker_layers", stream("ekfac", b -> b.setKroneckerLayers(1)));
      refused(h, "header.blocks", stream("ekfac", b -> b.setBlocks(3)));
      refused(h, "header.samples", stream("kfac", b -> b.setSamples(N - 1).setRows(N - 1)));
      refused(h, "header.parameters", stream("kfac", b -> b.setParameters(26)));

      // a basis that is not orthonormal (2I), or does not diagonalise the factor sent
      refused(h, "kronecker_sum.part", "not orthonormal", ekfacWith(3, part(0,
          KroneckerSumPart.INPUT_BASIS, 0, identity(5, 2))));
      double[] coupled = packedIdentity(5, N);
      coupled[1] = N / 2.0; // A_01 ≠ 0: the identity no longer diagonalises A
      refused(h, "kronecker_sum.part", "does not diagonalise", ekfacWith(1, part(0,
          KroneckerSumPart.INPUT_FACTOR_SUM, 0, coupled)));
      double[] rotated = identity(3, 1); // a permutation with one column duplicated: not orthonormal
      rotated[0] = 0;
      rotated[1] = 1;
      refused(h, "kronecker_sum.part", "not orthonormal", ekfacWith(9, part(1,
          KroneckerSumPart.OUTPUT_BASIS, 0, rotated)));

      // a missing layer, a missing part
      List<PutFisherSumsRequest> noLayer = stream("ekfac", b -> b);
      noLayer.subList(6, 11).clear();
      refused(h, "kronecker_sum", noLayer);
      List<PutFisherSumsRequest> noMoments = stream("ekfac", b -> b);
      noMoments.remove(5);
      refused(h, "kronecker_sum", noMoments);
      List<PutFisherSumsRequest> kfacNoG = stream("kfac", b -> b);
      kfacNoG.remove(4);
      refused(h, "kronecker_sum", kfacNoG);

      // NaN, negative sums, wrong shapes, offsets, unknown layers and parts
      double[] nan = packedIdentity(3, N);
      nan[2] = Double.NaN;
      refused(h, "kronecker_sum.values", ekfacWith(2, part(0, KroneckerSumPart.OUTPUT_FACTOR_SUM,
          0, nan)));
      refused(h, "kronecker_sum.values", ekfacWith(5, part(0, KroneckerSumPart.SECOND_MOMENT_SUM,
          0, filled(15, -1))));
      refused(h, "kronecker_sum.values", ekfacWith(3, part(0, KroneckerSumPart.INPUT_BASIS, 0,
          identity(6, 1))));
      refused(h, "kronecker_sum.values", ekfacWith(1, part(0, KroneckerSumPart.INPUT_FACTOR_SUM,
          0, packedIdentity(5, -N))));
      refused(h, "kronecker_sum.offset", ekfacWith(1, part(0, KroneckerSumPart.INPUT_FACTOR_SUM,
          1, packedIdentity(5, N))));
      refused(h, "kronecker_sum.layer", ekfacWith(1, part(2, KroneckerSumPart.INPUT_FACTOR_SUM,
          0, packedIdentity(5, N))));
      refused(h, "kronecker_sum.part", ekfacWith(1, part(0,
          KroneckerSumPart.KRONECKER_SUM_PART_UNSPECIFIED, 0, packedIdentity(5, N))));
      List<PutFisherSumsRequest> kfacWithBasis = stream("kfac", b -> b);
      kfacWithBasis.add(part(0, KroneckerSumPart.INPUT_BASIS, 0, identity(5, 1)));
      refused(h, "kronecker_sum.part", kfacWithBasis);
      List<PutFisherSumsRequest> twice = stream("kfac", b -> b);
      twice.add(part(0, KroneckerSumPart.INPUT_FACTOR_SUM, 0, packedIdentity(5, N)));
      refused(h, "kronecker_sum.offset", twice);
      // Kronecker parts after a block-diagonal header
      List<PutFisherSumsRequest> blockDiagonal = new ArrayList<>(stream("kfac", b -> b
          .setStructure("block_diagonal").setKroneckerLayers(0).setBlocks(4)));
      refused(h, "kronecker_sum", blockDiagonal.subList(0, 2));

      // The same streams, well formed, attach the Fisher.
      for (String structure : List.of("ekfac", "kfac")) {
        BuildFisherProgress done = PutFisherSumsTest.send(h.async, stream(structure, b -> b));
        assertTrue(done.getDone());
        assertEquals(done.getSummary().getFisherId(), h.server.store().info("m").fisher().fisherId());
        assertEquals(structure.equals("ekfac") ? FisherStructure.EKFAC : FisherStructure.KFAC,
            done.getSummary().getStructure());
        assertEquals(structure.equals("ekfac") ? 4 : 2, done.getSummary().getBlocks());
      }
    }
  }
}
