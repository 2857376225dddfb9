package dev.lethe.grpc;

import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.FisherKind;
import dev.lethe.api.v1.FisherMethod;
import dev.lethe.api.v1.FisherOptions;
import dev.lethe.api.v1.FisherStructure;
import dev.lethe.api.v1.FisherSummary;
import dev.lethe.core.LetheException;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.InversionMethod;

/**
 * BuildFisher's messages between the API and the domain, both ways: {@link FisherOptions} ⇄
 * {@link FisherRequest} and {@link BuildFisherProgress} (with its {@link FisherSummary}) ⇄
 * {@link FisherProgress}. Kinds and methods map by exhaustive switches; a value this server does
 * not know is INVALID_ARGUMENT naming its field. The server uses one direction, the client
 * (dev.lethe.client) the other. Stateless and thread-safe.
 */
public final class FisherMessages {
  private FisherMessages() {}

  static FisherRequest request(FisherOptions o) {
    return new FisherRequest(o.getName(),
        kind("options.fisher_kind", o.getFisherKind(), o.getFisherKindValue()),
        method("options.method", o.getMethod(), o.getMethodValue()),
        o.getBlockSize(), o.getMinibatch(), o.getMonteCarloDraws(), o.getSeed(), o.getVersion(),
        o.getSamples(), structure("options.structure", o.getStructure(), o.getStructureValue()),
        o.getStorageBudgetBytes());
  }

  /** Null for FISHER_STRUCTURE_UNSPECIFIED (= AUTO). */
  static dev.lethe.fisher.FisherStructure structure(String field, FisherStructure s, int value) {
    return switch (s) {
      case FISHER_STRUCTURE_UNSPECIFIED -> null;
      case BLOCK_DIAGONAL -> dev.lethe.fisher.FisherStructure.BLOCK_DIAGONAL;
      case KFAC -> dev.lethe.fisher.FisherStructure.KFAC;
      case EKFAC -> dev.lethe.fisher.FisherStructure.EKFAC;
      case AUTO -> dev.lethe.fisher.FisherStructure.AUTO;
      case UNRECOGNIZED -> throw LetheException.invalid(field, "unknown value " + value);
    };
  }

  static FisherStructure structure(dev.lethe.fisher.FisherStructure s) {
    if (s == null) {
      return FisherStructure.FISHER_STRUCTURE_UNSPECIFIED;
    }
    return switch (s) {
      case BLOCK_DIAGONAL -> FisherStructure.BLOCK_DIAGONAL;
      case KFAC -> FisherStructure.KFAC;
      case EKFAC -> FisherStructure.EKFAC;
      case AUTO -> FisherStructure.AUTO;
    };
  }

  /** The client's side of {@link #request(FisherOptions)}. */
  public static FisherOptions options(FisherRequest r) {
    return FisherOptions.newBuilder()
        .setName(r.name())
        .setFisherKind(kind(r.kind()))
        .setMethod(method(r.method()))
        .setBlockSize(r.blockSize())
        .setMinibatch(r.minibatch())
        .setMonteCarloDraws(r.draws())
        .setSeed(r.seed())
        .setVersion(r.version())
        .setSamples(r.samples())
        .setStructure(structure(r.structure()))
        .setStorageBudgetBytes(r.storageBudgetBytes())
        .build();
  }

  static BuildFisherProgress message(FisherProgress p) {
    BuildFisherProgress.Builder b = BuildFisherProgress.newBuilder()
        .setSamplesSeen(p.samplesSeen())
        .setBlocksDone(p.blocksDone())
        .setBlocksTotal(p.blocksTotal())
        .setDone(p.done())
        .setPass(p.pass())
        .setPasses(p.passes());
    FisherProgress.Summary s = p.summary();
    if (s != null) {
      b.setSummary(FisherSummary.newBuilder()
          .setFisherId(s.fisherId())
          .setVersion(s.version())
          .setSamples(s.samples())
          .setBlocks(s.blocks())
          .setBytes(s.bytes())
          .setFisherKind(kind(s.kind()))
          .setMethod(method(s.method()))
          .setBuildSeconds(s.buildSeconds())
          .setPasses(s.passes())
          .setMeanGradientNorm(s.convergence().meanGradientNorm())
          .setGradientRms(s.convergence().gradientRms())
          .setConvergenceWarning(s.convergence().warning())
          .setStructure(structure(s.structure()))
          .setStructureReason(s.structureReason()));
    }
    return b.build();
  }

  /** The client's side of {@link #message(FisherProgress)}. */
  public static FisherProgress progress(BuildFisherProgress p) {
    FisherProgress.Summary summary = null;
    if (p.hasSummary()) {
      FisherSummary s = p.getSummary();
      summary = new FisherProgress.Summary(s.getFisherId(), s.getVersion(), s.getSamples(),
          s.getBlocks(), s.getBytes(),
          kind("summary.fisher_kind", s.getFisherKind(), s.getFisherKindValue()),
          method("summary.method", s.getMethod(), s.getMethodValue()),
          s.getBuildSeconds(), s.getPasses(),
          new dev.lethe.fisher.Convergence(s.getMeanGradientNorm(), s.getGradientRms()),
          structure("summary.structure", s.getStructure(), s.getStructureValue()),
          s.getStructureReason());
    }
    return new FisherProgress(p.getSamplesSeen(), p.getBlocksDone(), p.getBlocksTotal(),
        p.getDone(), summary, p.getPass(), p.getPasses());
  }

  /** Null for FISHER_KIND_UNSPECIFIED: the build's default. */
  static CurvatureKind kind(String field, FisherKind k, int value) {
    return switch (k) {
      case FISHER_KIND_UNSPECIFIED -> null;
      case EMPIRICAL -> CurvatureKind.EMPIRICAL;
      case TRUE -> CurvatureKind.TRUE;
      case MONTE_CARLO -> CurvatureKind.MONTE_CARLO;
      case UNRECOGNIZED -> throw LetheException.invalid(field, "unknown value " + value);
    };
  }

  static FisherKind kind(CurvatureKind k) {
    if (k == null) {
      return FisherKind.FISHER_KIND_UNSPECIFIED;
    }
    return switch (k) {
      case EMPIRICAL -> FisherKind.EMPIRICAL;
      case TRUE -> FisherKind.TRUE;
      case MONTE_CARLO -> FisherKind.MONTE_CARLO;
    };
  }

  /** GRAM for FISHER_METHOD_UNSPECIFIED, the API's default. */
  static InversionMethod method(String field, FisherMethod m, int value) {
    return switch (m) {
      case FISHER_METHOD_UNSPECIFIED, GRAM -> InversionMethod.GRAM;
      case SHERMAN_MORRISON -> InversionMethod.SHERMAN_MORRISON;
      case UNRECOGNIZED -> throw LetheException.invalid(field, "unknown value " + value);
    };
  }

  static FisherMethod method(InversionMethod m) {
    return switch (m) {
      case GRAM -> FisherMethod.GRAM;
      case SHERMAN_MORRISON -> FisherMethod.SHERMAN_MORRISON;
    };
  }
}
