package dev.lethe.grpc;

import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.BuildFisherRequest;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Sends one BuildFisher stream through a harness and returns the last progress message. */
final class FisherStreams {
  private final ServerHarness lethe;

  FisherStreams(ServerHarness lethe) {
    this.lethe = lethe;
  }

  BuildFisherProgress buildFisher(List<BuildFisherRequest> messages) throws Exception {
    return build(lethe.async, messages);
  }

  /** The same through any stub (e.g. one that sends a token). */
  static BuildFisherProgress build(dev.lethe.api.v1.ModelStoreGrpc.ModelStoreStub async,
      List<BuildFisherRequest> messages) throws Exception {
    return stream(async::buildFisher, messages);
  }

  /**
   * Sends {@code messages} up a client stream answered by progress messages (BuildFisher,
   * PutFisherSums) and returns the last; a failure is the ExecutionException of its Status.
   */
  static <T> BuildFisherProgress stream(
      java.util.function.Function<StreamObserver<BuildFisherProgress>, StreamObserver<T>> open,
      List<T> messages) throws Exception {
    CompletableFuture<BuildFisherProgress> done = new CompletableFuture<>();
    StreamObserver<T> up = open.apply(new StreamObserver<>() {
      private BuildFisherProgress last;

      @Override
      public void onNext(BuildFisherProgress value) {
        last = value;
      }

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        done.complete(last);
      }
    });
    messages.forEach(up::onNext);
    up.onCompleted();
    return done.get(60, TimeUnit.SECONDS);
  }
}
