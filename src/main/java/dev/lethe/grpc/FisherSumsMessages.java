package dev.lethe.grpc;

import dev.lethe.api.v1.BlockSum;
import dev.lethe.api.v1.FisherSumsHeader;
import dev.lethe.api.v1.GradientSum;
import dev.lethe.api.v1.KroneckerSum;
import dev.lethe.api.v1.KroneckerSumPart;
import dev.lethe.api.v1.PutFisherSumsRequest;
import dev.lethe.fisher.FisherSums;
import dev.lethe.fisher.KroneckerSums;
import java.util.ArrayList;
import java.util.List;

/**
 * PutFisherSums ⇄ domain: the header as {@link FisherSums.Header}, and the domain's block sums
 * as request chunks (for the client). Stateless.
 */
public final class FisherSumsMessages {
  /**
   * Doubles per chunk: 256 Ki doubles are 2 MiB on the wire, under the 4 MiB a default gRPC
   * server accepts in one message.
   */
  public static final int CHUNK_DOUBLES = 256 * 1024;

  private FisherSumsMessages() {}

  static FisherSums.Header header(FisherSumsHeader h) {
    return new FisherSums.Header(h.getName(), h.getVersion(),
        FisherMessages.kind("header.fisher_kind", h.getFisherKind(), h.getFisherKindValue()),
        h.getStructure(), h.getSamples(), h.getBlockSize(), h.getBlocks(), h.getParameters(),
        h.getMonteCarloDraws(), h.getSeed(), h.getRows(), h.getGradientMoments(),
        h.getGradientSquaredNorms(), h.getKroneckerLayers());
  }

  /** The domain part of {@code p}, or null for an unset or unknown one. */
  static KroneckerSums.Part part(KroneckerSumPart p) {
    return switch (p) {
      case INPUT_FACTOR_SUM -> KroneckerSums.Part.INPUT_FACTOR_SUM;
      case OUTPUT_FACTOR_SUM -> KroneckerSums.Part.OUTPUT_FACTOR_SUM;
      case INPUT_BASIS -> KroneckerSums.Part.INPUT_BASIS;
      case OUTPUT_BASIS -> KroneckerSums.Part.OUTPUT_BASIS;
      case SECOND_MOMENT_SUM -> KroneckerSums.Part.SECOND_MOMENT_SUM;
      default -> null;
    };
  }

  /** Layer {@code layer}'s part {@code part} as chunks of at most {@link #CHUNK_DOUBLES}. */
  public static List<PutFisherSumsRequest> kronecker(int layer, KroneckerSums.Part part,
      double[] values) {
    KroneckerSumPart p = KroneckerSumPart.valueOf(part.name());
    List<PutFisherSumsRequest> out = new ArrayList<>();
    for (int from = 0; from < values.length; from += CHUNK_DOUBLES) {
      int to = Math.min(values.length, from + CHUNK_DOUBLES);
      KroneckerSum.Builder k = KroneckerSum.newBuilder().setLayer(layer).setPart(p).setOffset(from);
      for (int i = from; i < to; i++) {
        k.addValues(values[i]);
      }
      out.add(PutFisherSumsRequest.newBuilder().setKroneckerSum(k).build());
    }
    return out;
  }

  /** The header message of {@code h}. */
  public static PutFisherSumsRequest header(FisherSums.Header h) {
    return PutFisherSumsRequest.newBuilder().setHeader(FisherSumsHeader.newBuilder()
        .setName(h.model()).setVersion(h.version())
        .setFisherKind(FisherMessages.kind(h.kind()))
        .setStructure(h.structure() == null ? "" : h.structure()).setSamples(h.samples())
        .setBlockSize(h.blockSize()).setBlocks(h.blocks()).setParameters(h.parameters())
        .setMonteCarloDraws(h.draws()).setSeed(h.seed()).setRows(h.rows())
        .setGradientMoments(h.gradientMoments())
        .setGradientSquaredNorms(h.gradientSquaredNorms())
        .setKroneckerLayers(h.layers())).build();
  }

  /** Block {@code block}'s packed upper Gram as chunks of at most {@link #CHUNK_DOUBLES}. */
  public static List<PutFisherSumsRequest> block(int block, double[] packed) {
    List<PutFisherSumsRequest> out = new ArrayList<>();
    for (int from = 0; from < packed.length; from += CHUNK_DOUBLES) {
      int to = Math.min(packed.length, from + CHUNK_DOUBLES);
      BlockSum.Builder b = BlockSum.newBuilder().setBlock(block).setOffset(from);
      for (int i = from; i < to; i++) {
        b.addValues(packed[i]);
      }
      out.add(PutFisherSumsRequest.newBuilder().setBlock(b).build());
    }
    return out;
  }

  /** Σ∇l_i as chunks of at most {@link #CHUNK_DOUBLES}. */
  public static List<PutFisherSumsRequest> gradientSum(double[] sum) {
    List<PutFisherSumsRequest> out = new ArrayList<>();
    for (int from = 0; from < sum.length; from += CHUNK_DOUBLES) {
      int to = Math.min(sum.length, from + CHUNK_DOUBLES);
      GradientSum.Builder g = GradientSum.newBuilder().setOffset(from);
      for (int i = from; i < to; i++) {
        g.addValues(sum[i]);
      }
      out.add(PutFisherSumsRequest.newBuilder().setGradientSum(g).build());
    }
    return out;
  }

  /** The {@code count} values {@code get} reads by index, unboxed. */
  static double[] values(int count, java.util.function.IntToDoubleFunction get) {
    double[] out = new double[count];
    for (int i = 0; i < count; i++) {
      out[i] = get.applyAsDouble(i);
    }
    return out;
  }
}
