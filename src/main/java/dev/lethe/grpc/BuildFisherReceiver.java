package dev.lethe.grpc;

import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.BuildFisherRequest;
import dev.lethe.api.v1.FisherSummary;
import dev.lethe.core.LetheException;
import dev.lethe.fisher.FisherBuild;
import dev.lethe.fisher.FisherProgress;
import io.grpc.stub.StreamObserver;
import java.util.function.Function;

/**
 * Receives one BuildFisher stream: options first (checked at once), then sample batches (turned
 * into gradients as they arrive), then builds, stores and attaches the Fisher on completion,
 * streaming progress. After the first error it ignores the rest; a cancelled or failed build
 * leaves nothing stored. gRPC calls it serially; progress may also come from the build's worker
 * threads, so sending is synchronised.
 */
final class BuildFisherReceiver implements StreamObserver<BuildFisherRequest> {
  private final Function<dev.lethe.fisher.FisherRequest, FisherBuild> starter;
  private final StreamObserver<BuildFisherProgress> response;
  private final dev.lethe.metrics.LetheMetrics metrics;
  private FisherBuild build;
  private String model;
  private boolean failed;

  BuildFisherReceiver(Function<dev.lethe.fisher.FisherRequest, FisherBuild> starter,
      StreamObserver<BuildFisherProgress> response, dev.lethe.metrics.LetheMetrics metrics) {
    this.starter = starter;
    this.response = response;
    this.metrics = metrics;
  }

  @Override
  public void onNext(BuildFisherRequest request) {
    if (failed) {
      return;
    }
    try {
      switch (request.getPartCase()) {
        case OPTIONS -> {
          if (build != null) {
            throw LetheException.invalid("options", "sent twice; send them once, first");
          }
          build = starter.apply(ProtoConvert.fisherRequest(request.getOptions()));
          model = request.getOptions().getName();
          send(new FisherProgress(0, 0, build.blocksTotal(), false, null));
        }
        case SAMPLES -> {
          if (build == null) {
            throw LetheException.invalid("samples", "sent before options; the first message must be the options");
          }
          send(build.accept(ProtoConvert.batch(request.getSamples())));
        }
        default -> throw LetheException.invalid("part", "each message must set options or samples");
      }
    } catch (RuntimeException e) {
      fail(e);
    }
  }

  @Override
  public void onError(Throwable t) {
    failed = true;
    if (build != null) {
      build.close();
    }
  }

  @Override
  public void onCompleted() {
    if (failed) {
      return;
    }
    try {
      if (build == null) {
        throw LetheException.invalid("options", "required: the stream had no options");
      }
      FisherProgress done = build.finish(this::send);
      send(done);
      synchronized (this) {
        response.onCompleted();
      }
    } catch (RuntimeException e) {
      fail(e);
    }
  }

  private synchronized void send(FisherProgress p) {
    metrics.fisherProgress(model, p.blocksDone(), p.blocksTotal());
    if (p.summary() != null) {
      metrics.fisherBuilt(model, p.summary().bytes());
      metrics.gradients(model, p.summary().samples());
    }
    BuildFisherProgress.Builder b = BuildFisherProgress.newBuilder()
        .setSamplesSeen(p.samplesSeen())
        .setBlocksDone(p.blocksDone())
        .setBlocksTotal(p.blocksTotal())
        .setDone(p.done());
    if (p.summary() != null) {
      FisherProgress.Summary s = p.summary();
      b.setSummary(FisherSummary.newBuilder()
          .setFisherId(s.fisherId())
          .setVersion(s.version())
          .setSamples(s.samples())
          .setBlocks(s.blocks())
          .setBytes(s.bytes())
          .setFisherKind(dev.lethe.api.v1.FisherKind.valueOf(s.kind()))
          .setMethod(s.method().equals("gram") ? dev.lethe.api.v1.FisherMethod.GRAM
              : dev.lethe.api.v1.FisherMethod.SHERMAN_MORRISON)
          .setBuildSeconds(s.buildSeconds())
          .setPasses(s.passes()));
    }
    response.onNext(b.build());
  }

  private void fail(RuntimeException e) {
    failed = true;
    if (build != null) {
      build.close();
    }
    synchronized (this) {
      response.onError(Errors.toStatus(e));
    }
  }
}
