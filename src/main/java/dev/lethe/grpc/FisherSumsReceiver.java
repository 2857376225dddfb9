package dev.lethe.grpc;

import dev.lethe.api.v1.BlockSum;
import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.GradientSum;
import dev.lethe.api.v1.KroneckerSum;
import dev.lethe.api.v1.PutFisherSumsRequest;
import dev.lethe.core.LetheException;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherSums;
import dev.lethe.fisher.KroneckerSums;
import dev.lethe.metrics.LetheMetrics;
import io.grpc.stub.StreamObserver;
import java.util.function.Function;

/**
 * Receives one PutFisherSums stream: the header first (checked against the model version at
 * once), then block sums (each block inverted and stored when its last chunk is in), the
 * gradient sum and, for KFAC/EKFAC, the dense layers' parts, then commits and attaches the Fisher on completion, streaming the same progress
 * as BuildFisher. After the first error it ignores the rest; a failed or cancelled stream leaves
 * nothing stored. gRPC calls it serially.
 */
final class FisherSumsReceiver extends StreamReceiver<PutFisherSumsRequest, BuildFisherProgress> {
  private final Function<FisherSums.Header, FisherSums> starter;
  private final LetheMetrics metrics;
  private FisherSums sums;
  private String model;

  FisherSumsReceiver(Function<FisherSums.Header, FisherSums> starter,
      StreamObserver<BuildFisherProgress> response, LetheMetrics metrics) {
    super(response);
    this.starter = starter;
    this.metrics = metrics;
  }

  @Override
  void part(PutFisherSumsRequest request) {
    switch (request.getPartCase()) {
      case HEADER -> {
        if (sums != null) {
          throw LetheException.invalid("header", "sent twice; send it once, first");
        }
        sums = starter.apply(FisherSumsMessages.header(request.getHeader()));
        model = request.getHeader().getName();
        send(sums.progress());
      }
      case BLOCK -> {
        BlockSum b = request.getBlock();
        FisherProgress p = started("block").accept(b.getBlock(), b.getOffset(),
            FisherSumsMessages.values(b.getValuesCount(), b::getValues));
        if (p != null) {
          send(p);
        }
      }
      case GRADIENT_SUM -> {
        GradientSum g = request.getGradientSum();
        started("gradient_sum").acceptGradient(g.getOffset(),
            FisherSumsMessages.values(g.getValuesCount(), g::getValues));
      }
      case KRONECKER_SUM -> {
        KroneckerSum k = request.getKroneckerSum();
        FisherSums s = started("kronecker_sum");
        KroneckerSums.Part part = FisherSumsMessages.part(k.getPart());
        if (part == null) {
          throw LetheException.invalid("kronecker_sum.part", "required: INPUT_FACTOR_SUM,"
              + " OUTPUT_FACTOR_SUM, INPUT_BASIS, OUTPUT_BASIS or SECOND_MOMENT_SUM, got "
              + k.getPartValue());
        }
        s.acceptKronecker(k.getLayer(), part, k.getOffset(),
            FisherSumsMessages.values(k.getValuesCount(), k::getValues));
      }
      default -> throw LetheException.invalid("part",
          "each message must set header, block, gradient_sum or kronecker_sum");
    }
  }

  private FisherSums started(String field) {
    if (sums == null) {
      throw LetheException.invalid(field, "sent before the header; the first message must be the header");
    }
    return sums;
  }

  @Override
  void complete() {
    if (sums == null) {
      throw LetheException.invalid("header", "required: the stream had no header");
    }
    FisherProgress done = sums.finish();
    ChangeLog.fisherBuilt(model, done.summary());
    send(done);
    synchronized (this) {
      response.onCompleted();
    }
  }

  @Override
  void release() {
    if (sums != null) {
      sums.close();
    }
  }

  private synchronized void send(FisherProgress p) {
    metrics.fisherProgress(model, p.blocksDone(), p.blocksTotal());
    if (p.summary() != null) {
      metrics.fisherBuilt(model, p.summary().bytes());
    }
    response.onNext(FisherMessages.message(p));
  }
}
