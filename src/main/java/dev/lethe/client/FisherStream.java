package dev.lethe.client;

import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.grpc.FisherMessages;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * One call that streams requests and answers with Fisher progress (BuildFisher, PutFisherSums)
 * from the client's side: every message of an iterator, consumed lazily and sent only while the
 * transport is ready, so a large training set (or a large Fisher's sums) is never buffered
 * whole. {@link #run} blocks the calling thread; progress arrives on a gRPC thread. Used once.
 *
 * @param <T> the request message
 */
final class FisherStream<T> implements ClientResponseObserver<T, BuildFisherProgress> {
  private final CompletableFuture<FisherProgress> result = new CompletableFuture<>();
  private final Object ready = new Object();
  private final Consumer<FisherProgress> onProgress;
  private FisherProgress last;

  FisherStream(Consumer<FisherProgress> onProgress) {
    this.onProgress = onProgress;
  }

  /** Sends the stream and returns the last progress message (done, with the summary). */
  FisherProgress run(Function<StreamObserver<BuildFisherProgress>, StreamObserver<T>> call,
      Iterator<T> messages) {
    ClientCallStreamObserver<T> upload = (ClientCallStreamObserver<T>) call.apply(this);
    try {
      while (messages.hasNext() && !result.isDone()) {
        synchronized (ready) {
          while (!upload.isReady() && !result.isDone()) {
            ready.wait();
          }
        }
        if (!result.isDone()) {
          upload.onNext(messages.next());
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
  public void beforeStart(ClientCallStreamObserver<T> requests) {
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
