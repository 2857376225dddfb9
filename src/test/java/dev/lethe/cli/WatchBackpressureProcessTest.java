package dev.lethe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelStoreGrpc;
import dev.lethe.api.v1.SetScaleRequest;
import dev.lethe.api.v1.WatchModelRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ten WatchModel subscribers that never read, over a real HTTP/2 connection, while 5 000 changes
 * are committed (issue 13): every change succeeds, a reading subscriber ends on the newest
 * state, and each stalled one is sent at most what flow control let through — not every change —
 * then RESOURCE_EXHAUSTED once it fell --max-watch-behind changes behind.
 */
class WatchBackpressureProcessTest {
  @TempDir Path dir;

  /** A watch whose client asks for no messages until {@link #drain} is called. */
  private static final class Stalled implements ClientResponseObserver<WatchModelRequest, ModelInfo> {
    final AtomicInteger received = new AtomicInteger();
    final CompletableFuture<Status> end = new CompletableFuture<>();
    ClientCallStreamObserver<WatchModelRequest> call;

    @Override
    public void beforeStart(ClientCallStreamObserver<WatchModelRequest> requestStream) {
      call = requestStream;
      requestStream.disableAutoRequestWithInitial(0);
    }

    void drain() {
      call.request(Integer.MAX_VALUE);
    }

    @Override
    public void onNext(ModelInfo value) {
      received.incrementAndGet();
    }

    @Override
    public void onError(Throwable t) {
      end.complete(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      end.complete(Status.OK);
    }
  }

  @Test
  void stalledWatchersNeitherGrowTheServerNorHoldUpCommits() throws Exception {
    int changes = 5000;
    try (MemoryLimitsProcessTest.Server s = MemoryLimitsProcessTest.serve(dir, "watch",
        List.of("-Xmx128m", "-XX:+UseSerialGC"), "--data-dir", dir.resolve("data").toString(),
        "--max-watch-behind", "100", "--demo")) {
      // A 64 KiB window: a stalled subscriber's share fills after a few hundred states (with the
      // default 1 MiB, 5 000 small states would all fit in the client's own buffer).
      ManagedChannel channel = NettyChannelBuilder.forTarget(s.target()).usePlaintext()
          .flowControlWindow(64 << 10).build();
      try {
        ModelStoreGrpc.ModelStoreStub async = ModelStoreGrpc.newStub(channel);
        WatchModelRequest watch = WatchModelRequest.newBuilder().setName("digits").build();
        List<Stalled> stalled = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
          Stalled w = new Stalled();
          async.watchModel(watch, w);
          stalled.add(w);
        }
        AtomicReference<Double> lastSeen = new AtomicReference<>();
        AtomicInteger liveReceived = new AtomicInteger();
        async.watchModel(watch, new io.grpc.stub.StreamObserver<>() {
          @Override
          public void onNext(ModelInfo value) {
            liveReceived.incrementAndGet();
            lastSeen.set(value.getSpec().getScale());
          }

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {}
        });
        ModelStoreGrpc.ModelStoreBlockingStub blocking = ModelStoreGrpc.newBlockingStub(channel);
        double last = 0;
        long started = System.nanoTime();
        for (int i = 1; i <= changes; i++) {
          last = 1 + i * 1e-4;
          ModelInfo info = blocking.setScale(SetScaleRequest.newBuilder().setName("digits")
              .setScale(last).build()); // throws unless the change committed and was answered OK
          assertEquals(last, info.getSpec().getScale());
        }
        long committed = System.nanoTime();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Double.valueOf(last).equals(lastSeen.get()) && System.nanoTime() < deadline) {
          Thread.sleep(20);
        }
        assertEquals(last, lastSeen.get(), "the reading subscriber ends on the newest state");
        for (Stalled w : stalled) {
          w.drain();
          Status end = w.end.get(60, TimeUnit.SECONDS);
          assertEquals(Status.Code.RESOURCE_EXHAUSTED, end.getCode(), end.toString());
          assertTrue(end.getDescription().contains("--max-watch-behind"), end.getDescription());
          assertTrue(w.received.get() < changes / 2, "a stalled subscriber was sent "
              + w.received.get() + " of " + changes + " states: the server buffered them");
        }
        System.out.printf("%d changes in %.1f s; the reading subscriber got %d states, the stalled ones %s%n",
            changes, (committed - started) / 1e9, liveReceived.get(), stalled.stream().map(w -> w.received.get()).toList());
        // Still serving after all of it.
        assertEquals(last, blocking.setScale(SetScaleRequest.newBuilder().setName("digits")
            .setScale(last).build()).getSpec().getScale());
      } finally {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }
}
