package dev.lethe.client;

import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.function.Supplier;

/** How the client's calls end: a status becomes a {@link RemoteException}. Stateless. */
final class Calls {
  private Calls() {}

  /** Runs a blocking call. */
  static <T> T call(Supplier<T> body) {
    try {
      return body.get();
    } catch (StatusRuntimeException e) {
      throw remote(e);
    }
  }

  /** Waits for an asynchronous call; an interrupt cancels the wait (CANCELLED). */
  static <T> T await(CompletableFuture<T> future) {
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RemoteException("CANCELLED", "interrupted", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof StatusRuntimeException s) {
        throw remote(s);
      }
      throw new RemoteException("UNKNOWN", String.valueOf(e.getCause()), e.getCause());
    }
  }

  static RemoteException remote(StatusRuntimeException e) {
    String description = e.getStatus().getDescription();
    return new RemoteException(e.getStatus().getCode().name(),
        description == null ? e.getStatus().toString() : description, e);
  }

  /** Completes {@code result} with the single response of a client-streaming call. */
  static <T> StreamObserver<T> single(CompletableFuture<T> result) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {
        result.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        result.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        result.completeExceptionally(new IllegalStateException("no response"));
      }
    };
  }
}
