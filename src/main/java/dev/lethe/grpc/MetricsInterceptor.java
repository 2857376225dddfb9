package dev.lethe.grpc;

import dev.lethe.metrics.LetheMetrics;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/** Counts every RPC by method and status code and records its latency. Thread-safe. */
public final class MetricsInterceptor implements ServerInterceptor {
  private final LetheMetrics metrics;

  public MetricsInterceptor(LetheMetrics metrics) {
    this.metrics = metrics;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    long start = System.nanoTime();
    String method = call.getMethodDescriptor().getFullMethodName();
    return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        metrics.rpc(method, status.getCode().name(), (System.nanoTime() - start) / 1e9);
        super.close(status, trailers);
      }
    }, headers);
  }
}
