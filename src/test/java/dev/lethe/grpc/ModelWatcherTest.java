package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.SetScaleRequest;
import dev.lethe.api.v1.WatchModelRequest;
import dev.lethe.erase.EraseConfig;
import dev.lethe.server.Security;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** WatchModel flow control in process (the HTTP/2 case: WatchBackpressureProcessTest). */
class ModelWatcherTest {
  @TempDir Path dir;

  /** Asks for {@code initial} messages, records what arrives and how the call ends. */
  private static final class Watch implements ClientResponseObserver<WatchModelRequest, ModelInfo> {
    final List<Double> scales = new CopyOnWriteArrayList<>();
    final CompletableFuture<Status> end = new CompletableFuture<>();
    final int initial;
    ClientCallStreamObserver<WatchModelRequest> call;

    Watch(int initial) {
      this.initial = initial;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<WatchModelRequest> requestStream) {
      call = requestStream;
      if (initial >= 0) {
        requestStream.disableAutoRequestWithInitial(initial);
      }
    }

    @Override
    public void onNext(ModelInfo value) {
      scales.add(value.getSpec().getScale());
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
  void aSubscriberThatDoesNotReadIsCancelledAndOneThatReadsEndsOnTheNewestState() throws Exception {
    ServerConfig config = new ServerConfig("127.0.0.1:0", dir, new StoreConfig(3, 1 << 20),
        64 << 20, false, 5, EraseConfig.defaults(), ServerConfig.DEFAULT_FISHER_MEMORY_BYTES,
        Security.none(), null, null, 1, null, 5);
    try (ServerHarness lethe = new ServerHarness(config,
        store -> store.put(Fixtures.spec("m"), Fixtures.mlp(1).onnx()))) {
      WatchModelRequest request = WatchModelRequest.newBuilder().setName("m").build();
      Watch stalled = new Watch(0);
      Watch reading = new Watch(-1);
      lethe.async.watchModel(request, stalled);
      lethe.async.watchModel(request, reading);
      for (int i = 1; i <= 20; i++) {
        ModelInfo info = lethe.blocking.setScale(SetScaleRequest.newBuilder().setName("m")
            .setScale(i).build());
        assertEquals(i, info.getSpec().getScale()); // committed and answered, whatever watchers do
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (!reading.scales.contains(20.0) && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertEquals(20.0, reading.scales.get(reading.scales.size() - 1));
      assertTrue(reading.end.isDone() == false, "the reading watch is still open");
      stalled.call.request(100);
      Status end = stalled.end.get(10, TimeUnit.SECONDS);
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, end.getCode(), end.toString());
      assertTrue(end.getDescription().startsWith("name: the watch on model 'm' fell more than 5"
          + " changes behind"), end.getDescription());
      assertEquals(List.of(), stalled.scales); // it was never ready: nothing was queued for it
    }
  }
}
