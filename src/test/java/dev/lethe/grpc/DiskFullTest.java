package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.BuildFisherRequest;
import dev.lethe.api.v1.FisherOptions;
import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.SetScaleRequest;
import dev.lethe.core.Samples;
import dev.lethe.server.LetheServer;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #14 finding 7 on a real full volume: the store on a 64 MiB tmpfs (mounting needs root
 * with CAP_SYS_ADMIN; the test skips with a message where that is not permitted), filled by
 * another file. Writes answer RESOURCE_EXHAUSTED naming the data volume and change nothing,
 * BuildFisher's cleanup does not mask that, health reports NOT_SERVING, and as soon as space is
 * freed RocksDB resumes and health reports SERVING.
 */
class DiskFullTest {
  private static final String MODEL = "mlp";
  private static final int N = 40;
  @TempDir Path dir;
  private Path volume;
  private boolean mounted;

  private static int run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    return p.exitValue();
  }

  @AfterEach
  void unmount() throws Exception {
    if (mounted) {
      run("umount", "-l", volume.toString());
    }
  }

  private void mountSmallVolume() throws Exception {
    volume = dir.resolve("volume");
    Files.createDirectories(volume);
    int rc;
    try {
      rc = run("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", volume.toString());
    } catch (IOException e) {
      rc = -1;
    }
    Assumptions.assumeTrue(rc == 0,
        "skipped: cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN); mount exited " + rc);
    mounted = true;
  }

  /** Writes zeros into {@code filler} until the volume has no space left. */
  private static void fill(Path filler) throws IOException {
    byte[] chunk = new byte[1 << 16];
    try (OutputStream out = Files.newOutputStream(filler)) {
      while (true) {
        out.write(chunk);
      }
    } catch (IOException full) {
      assertTrue(String.valueOf(full.getMessage()).contains("No space left on device"), full.toString());
    }
  }

  private static ServingStatus health(ServerHarness h) {
    return HealthGrpc.newBlockingStub(h.channel).check(HealthCheckRequest.newBuilder()
        .setService(LetheServer.SERVICE).build()).getStatus();
  }

  @Test
  void aFullVolumeIsResourceExhaustedNotServingAndRecoversWhenFreed() throws Exception {
    mountSmallVolume();
    Path data = volume.resolve("data");
    Samples train = Fixtures.batch(3, N);
    ServerConfig c = new ServerConfig("127.0.0.1:0", data, new StoreConfig(10, 1 << 20), 64 << 20,
        false, 5);
    try (ServerHarness h = new ServerHarness(c, store -> {})) {
      EraseRpc.put(h.async, Fixtures.spec(MODEL).withTrainSize(N), Fixtures.mlp(2).onnx());
      EraseRpc.buildFisher(h.async, MODEL, train);
      Path filler = volume.resolve("filler");
      fill(filler);
      // Synced writes until one needs a page the volume does not have.
      StatusRuntimeException full = null;
      ModelInfo before = null;
      for (int i = 1; i <= 2000 && full == null; i++) {
        before = EraseRpc.info(h.blocking, MODEL);
        try {
          h.blocking.setScale(SetScaleRequest.newBuilder().setName(MODEL).setScale(1 + i / 1e4).build());
        } catch (StatusRuntimeException e) {
          full = e;
        }
      }
      assertTrue(full != null, "no write failed on the full volume");
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, full.getStatus().getCode(), full.getStatus().toString());
      assertTrue(full.getStatus().getDescription().startsWith("data volume (--data-dir) is full"),
          full.getStatus().getDescription());
      assertFalse(full.getStatus().getDescription().contains(volume.toString()), full.getStatus().getDescription());
      assertEquals(before, EraseRpc.info(h.blocking, MODEL), "a refused write changes nothing");
      assertEquals(ServingStatus.NOT_SERVING, health(h));
      // Erase and BuildFisher answer the same (the build's cleanup fails too, and must not mask it).
      StatusRuntimeException erase = assertThrows(StatusRuntimeException.class,
          () -> h.blocking.erase(EraseRpc.erase(MODEL, "r1", train, 0)));
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, erase.getStatus().getCode(), erase.getStatus().toString());
      CompletableFuture<BuildFisherProgress> built = new CompletableFuture<>();
      StreamObserver<BuildFisherRequest> up = h.async.buildFisher(EraseRpc.observer(built));
      up.onNext(BuildFisherRequest.newBuilder().setOptions(FisherOptions.newBuilder().setName(MODEL)
          .setBlockSize(10).setFisherKind(dev.lethe.api.v1.FisherKind.EMPIRICAL)).build());
      up.onNext(BuildFisherRequest.newBuilder().setSamples(SampleMessages.batch(train)).build());
      up.onCompleted();
      ExecutionException build = assertThrows(ExecutionException.class, () -> built.get(60, TimeUnit.SECONDS));
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, Status.fromThrowable(build.getCause()).getCode(),
          build.getCause().toString());
      assertEquals(before, EraseRpc.info(h.blocking, MODEL));
      // Free the space: health goes back to SERVING without a restart, and writes succeed.
      Files.delete(filler);
      Iterator<io.grpc.health.v1.HealthCheckResponse> watch = HealthGrpc.newBlockingStub(h.channel)
          .withDeadlineAfter(30, TimeUnit.SECONDS)
          .watch(HealthCheckRequest.newBuilder().setService(LetheServer.SERVICE).build());
      while (watch.next().getStatus() != ServingStatus.SERVING) {
        // each message is a change; the deadline bounds the wait
      }
      assertEquals(1.5, h.blocking.setScale(SetScaleRequest.newBuilder().setName(MODEL).setScale(1.5).build())
          .getSpec().getScale());
      assertEquals(1, h.blocking.erase(EraseRpc.erase(MODEL, "r2", train, 0)).getErased());
      assertEquals(List.of(MODEL), h.blocking.listModels(ListModelsRequest.getDefaultInstance())
          .getModelsList().stream().map(ModelInfo::getName).toList());
    }
  }
}
