package dev.lethe.grpc;

import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelSpec;
import dev.lethe.api.v1.ModelStoreGrpc;
import dev.lethe.api.v1.PutModelRequest;
import dev.lethe.server.LetheServer;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.ModelStore;
import dev.lethe.store.StoreConfig;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** A Lethe server on a uniquely named in-process transport over a store in {@code dir}. */
final class ServerHarness implements AutoCloseable {
  // close() may throw InterruptedException, as LetheServer.stop() does.
  final LetheServer server;
  final ManagedChannel channel;
  final ModelStoreGrpc.ModelStoreBlockingStub blocking;
  final ModelStoreGrpc.ModelStoreStub async;

  ServerHarness(Path dir, long maxModelBytes) throws Exception {
    this(dir, maxModelBytes, store -> {});
  }

  ServerHarness(Path dir, long maxModelBytes, Consumer<ModelStore> init) throws Exception {
    this(new ServerConfig("127.0.0.1:0", dir, new StoreConfig(3, maxModelBytes), 64 << 20, false, 5),
        init);
  }

  /** A server with the given settings (only the listen address is ignored). */
  ServerHarness(ServerConfig config, Consumer<ModelStore> init) throws Exception {
    String name = InProcessServerBuilder.generateName();
    server = new LetheServer(config, InProcessServerBuilder.forName(name).directExecutor(), init)
        .start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    blocking = ModelStoreGrpc.newBlockingStub(channel);
    async = ModelStoreGrpc.newStub(channel);
  }

  /**
   * A server on real Netty loopback (an ephemeral port, {@link #target()}), for tests that also
   * drive the command line against it.
   */
  static ServerHarness loopback(ServerConfig config, Consumer<ModelStore> init) throws Exception {
    LetheServer server = new LetheServer(config, io.grpc.netty.shaded.io.grpc.netty
        .NettyServerBuilder.forAddress(new java.net.InetSocketAddress("127.0.0.1", 0)), init).start();
    return new ServerHarness(server, io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder
        .forAddress("127.0.0.1", server.port()).usePlaintext().build());
  }

  private ServerHarness(LetheServer server, ManagedChannel channel) {
    this.server = server;
    this.channel = channel;
    blocking = ModelStoreGrpc.newBlockingStub(channel);
    async = ModelStoreGrpc.newStub(channel);
  }

  /** host:port of a {@link #loopback} server. */
  String target() {
    return "127.0.0.1:" + server.port();
  }

  /** Sends the given messages as one PutModel stream and waits for the answer. */
  ModelInfo put(List<PutModelRequest> messages) {
    CompletableFuture<ModelInfo> result = new CompletableFuture<>();
    StreamObserver<PutModelRequest> up = async.putModel(new StreamObserver<>() {
      @Override
      public void onNext(ModelInfo value) {
        result.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        result.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    });
    messages.forEach(up::onNext);
    up.onCompleted();
    try {
      return result.get(60, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof StatusRuntimeException s) {
        throw s;
      }
      throw new AssertionError(e);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  ModelInfo put(ModelSpec spec, byte[] onnx) {
    return put(List.of(spec(spec), chunk(onnx)));
  }

  static PutModelRequest spec(ModelSpec spec) {
    return PutModelRequest.newBuilder().setSpec(spec).build();
  }

  static PutModelRequest chunk(byte[] bytes) {
    return PutModelRequest.newBuilder()
        .setChunk(com.google.protobuf.ByteString.copyFrom(bytes)).build();
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow();
    server.stop();
  }
}
