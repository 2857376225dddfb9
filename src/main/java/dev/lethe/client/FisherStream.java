package dev.lethe.client;

import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.BuildFisherRequest;
import dev.lethe.api.v1.ModelStoreGrpc;
import dev.lethe.core.Samples;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.grpc.FisherMessages;
import dev.lethe.grpc.SampleMessages;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * One BuildFisher call from the client's side: the options, then every batch of an iterator,
 * consumed lazily and sent only while the transport is ready, so a large training set is never
 * buffered whole. {@link #run} blocks the calling thread; progress arrives on a gRPC thread.
 * Used once, by {@link LetheClient#buildFisher}.
 */
final class FisherStream implements ClientResponseObserver<BuildFisherRequest, BuildFisherProgress> {
  private final CompletableFuture<FisherProgress> result = new CompletableFuture<>();
  private final Object ready = new Object();
  private final Consumer<FisherProgress> onProgress;
  private FisherProgress last;

  FisherStream(Consumer<FisherProgress> onProgress) {
    this.onProgress = onProgress;
  }

  /** Sends the stream and returns the last progress message (done, with the summary). */
  FisherProgress run(ModelStoreGrpc.ModelStoreStub async, FisherRequest options,
      Iterator<Samples> batches) {
    ClientCallStreamObserver<BuildFisherRequest> upload =
        (ClientCallStreamObserver<BuildFisherRequest>) async.buildFisher(this);
    try {
      upload.onNext(BuildFisherRequest.newBuilder()
          .setOptions(FisherMessages.options(options)).build());
      while (batches.hasNext() && !result.isDone()) {
        synchronized (ready) {
          while (!upload.isReady() && !result.isDone()) {
            ready.wait();
          }
        }
        if (!result.isDone()) {
          upload.onNext(BuildFisherRequest.newBuilder()
              .setSamples(SampleMessages.batch(batches.next())).build());
        }
      }
      if (!result.isDone()) {
        upload.onCompleted();
      }
    } catch (InterruptedException e) {
      upload.cancel("interrupted", e);
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      upload.cancel("the client failed while sending", e);
      throw e;
    }
    return Calls.await(result);
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<BuildFisherRequest> requests) {
    requests.setOnReadyHandler(this::wake);
  }

  @Override
  public void onNext(BuildFisherProgress value) {
    last = FisherMessages.progress(value);
    onProgress.accept(last);
  }

  @Override
  public void onError(Throwable t) {
    result.completeExceptionally(t);
    wake();
  }

  @Override
  public void onCompleted() {
    if (last == null || !last.done()) {
      result.completeExceptionally(new IllegalStateException("the stream ended before the build was done"));
    } else {
      result.complete(last);
    }
  }

  private void wake() {
    synchronized (ready) {
      ready.notifyAll();
    }
  }
}
