package dev.lethe.grpc;

import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.BuildFisherRequest;
import dev.lethe.core.LetheException;
import dev.lethe.fisher.FisherBuild;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.metrics.LetheMetrics;
import io.grpc.stub.StreamObserver;
import java.util.function.Function;

/**
 * Receives one BuildFisher stream: options first (checked at once), then sample batches (turned
 * into gradients as they arrive), then builds, stores and attaches the Fisher on completion,
 * streaming progress. After the first error it ignores the rest; a cancelled or failed build
 * leaves nothing stored. gRPC calls it serially; progress may also come from the build's worker
 * threads, so sending is synchronised.
 */
final class BuildFisherReceiver extends StreamReceiver<BuildFisherRequest, BuildFisherProgress> {
  private final Function<FisherRequest, FisherBuild> starter;
  private final LetheMetrics metrics;
  private FisherBuild build;
  private String model;

  BuildFisherReceiver(Function<FisherRequest, FisherBuild> starter,
      StreamObserver<BuildFisherProgress> response, LetheMetrics metrics) {
    super(response);
    this.starter = starter;
    this.metrics = metrics;
  }

  @Override
  void part(BuildFisherRequest request) {
    switch (request.getPartCase()) {
      case OPTIONS -> {
        if (build != null) {
          throw LetheException.invalid("options", "sent twice; send them once, first");
        }
        build = starter.apply(FisherMessages.request(request.getOptions()));
        model = request.getOptions().getName();
        send(new FisherProgress(0, 0, build.blocksTotal(), false, null));
      }
      case SAMPLES -> {
        if (build == null) {
          throw LetheException.invalid("samples", "sent before options; the first message must be the options");
        }
        send(build.accept(SampleMessages.samples(request.getSamples())));
      }
      default -> throw LetheException.invalid("part", "each message must set options or samples");
    }
  }

  @Override
  void complete() {
    if (build == null) {
      throw LetheException.invalid("options", "required: the stream had no options");
    }
    FisherProgress done = build.finish(this::send);
    ChangeLog.fisherBuilt(model, done.summary());
    send(done);
    synchronized (this) {
      response.onCompleted();
    }
  }

  @Override
  void release() {
    if (build != null) {
      build.close();
    }
  }

  private synchronized void send(FisherProgress p) {
    metrics.fisherProgress(model, p.blocksDone(), p.blocksTotal());
    if (p.summary() != null) {
      metrics.fisherBuilt(model, p.summary().bytes());
      metrics.gradients(model, p.summary().samples());
    }
    response.onNext(FisherMessages.message(p));
  }
}
