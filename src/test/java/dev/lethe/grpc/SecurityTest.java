package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelStoreGrpc;
import dev.lethe.api.v1.SetActiveVersionRequest;
import dev.lethe.api.v1.SetScaleRequest;
import dev.lethe.client.ClientSecurity;
import dev.lethe.client.LetheClient;
import dev.lethe.client.RemoteException;
import dev.lethe.erase.EraseConfig;
import dev.lethe.server.LetheServer;
import dev.lethe.server.Security;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.MetadataUtils;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bearer tokens (in-process) and TLS / mutual TLS (real Netty on loopback). */
class SecurityTest {
  @TempDir Path dir;

  private static ServerConfig config(Path dir, Security security) {
    return new ServerConfig("127.0.0.1:0", dir, new StoreConfig(10, 1 << 20), 64 << 20, false, 5,
        EraseConfig.defaults(), 1L << 30, security);
  }

  private static ModelStoreGrpc.ModelStoreBlockingStub as(ServerHarness h, String token) {
    Metadata m = new Metadata();
    m.put(TokenAuthInterceptor.AUTHORIZATION, "Bearer " + token);
    return h.blocking.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
  }

  private static void assertCode(Status.Code code, org.junit.jupiter.api.function.Executable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
  }

  @Test
  void mutatingCallsNeedAWriteTokenAndRefusalsChangeNothing() throws Exception {
    Security tokens = new Security(null, null, null, Set.of("w-token"), Set.of("r-token"), false);
    try (ServerHarness h = new ServerHarness(config(dir, tokens),
        store -> store.put(Fixtures.spec("mlp"), Fixtures.mlp(1).onnx()))) {
      List<ModelInfo> before = h.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsList();
      SetActiveVersionRequest activate =
          SetActiveVersionRequest.newBuilder().setName("mlp").setVersion(1).build();
      EraseRequest erase = EraseRequest.newBuilder().setName("mlp")
          .setSamples(SampleMessages.batch(Fixtures.batch(1, 2))).build();
      assertCode(Status.Code.UNAUTHENTICATED, () -> h.blocking.setActiveVersion(activate));
      assertCode(Status.Code.UNAUTHENTICATED, () -> as(h, "wrong").erase(erase));
      assertCode(Status.Code.PERMISSION_DENIED, () -> as(h, "r-token").setActiveVersion(activate));
      assertCode(Status.Code.PERMISSION_DENIED, () -> as(h, "r-token").erase(erase));
      SetScaleRequest scale = SetScaleRequest.newBuilder().setName("mlp").setScale(2.5).build();
      assertCode(Status.Code.UNAUTHENTICATED, () -> h.blocking.setScale(scale));
      assertCode(Status.Code.UNAUTHENTICATED, () -> as(h, "wrong").setScale(scale));
      assertCode(Status.Code.PERMISSION_DENIED, () -> as(h, "r-token").setScale(scale));
      StatusRuntimeException put = assertThrows(StatusRuntimeException.class,
          () -> h.put(ModelMessages.spec(Fixtures.spec("other")), Fixtures.mlp(2).onnx()));
      assertEquals(Status.Code.UNAUTHENTICATED, put.getStatus().getCode());
      assertEquals(before, h.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsList());
      // Reads stay open by default; a write token may do everything.
      assertEquals(1, as(h, "w-token").setActiveVersion(activate).getActiveVersion());
      assertCode(Status.Code.FAILED_PRECONDITION, () -> as(h, "w-token").erase(erase)); // past auth: no Fisher
      assertEquals(1.0, before.get(0).getSpec().getScale());
      assertEquals(2.5, as(h, "w-token").setScale(scale).getSpec().getScale());
    }
  }

  @Test
  void readsCanRequireATokenButHealthStaysOpen() throws Exception {
    Security tokens = new Security(null, null, null, Set.of("w"), Set.of("r"), true);
    try (ServerHarness h = new ServerHarness(config(dir, tokens), store -> {})) {
      assertCode(Status.Code.UNAUTHENTICATED,
          () -> h.blocking.listModels(ListModelsRequest.getDefaultInstance()));
      assertEquals(0, as(h, "r").listModels(ListModelsRequest.getDefaultInstance()).getModelsCount());
      assertEquals(HealthCheckResponse.ServingStatus.SERVING, HealthGrpc.newBlockingStub(h.channel)
          .check(HealthCheckRequest.newBuilder().build()).getStatus());
    }
  }

  @Test
  void tokenFilesNameTheirBadLines() throws Exception {
    Path file = dir.resolve("tokens");
    Files.writeString(file, "# ops\nwrite abc\nread def\nbare\n\n");
    Set<String>[] t = Security.loadTokens(file);
    assertEquals(Set.of("abc", "bare"), t[0]);
    assertEquals(Set.of("def"), t[1]);
    Files.writeString(file, "write abc\nadmin xyz\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Security.loadTokens(file));
    assertTrue(e.getMessage().contains(":2:"), e.getMessage());
  }

  private Path cert(String name) throws Exception {
    Path out = dir.resolve(name);
    try (InputStream in = io.grpc.testing.TlsTesting.loadCert(name)) {
      Files.copy(in, out);
    }
    return out;
  }

  @Test
  void tlsAndMutualTlsOverLoopback() throws Exception {
    Path ca = cert("ca.pem");
    Security tls = new Security(cert("server1.pem"), cert("server1.key"), null, Set.of(), Set.of(), false);
    LetheServer server = LetheServer.netty(config(dir.resolve("a"), tls), s -> {}).start();
    String target = "127.0.0.1:" + server.port();
    try {
      try (LetheClient client = LetheClient.connect(target,
          new ClientSecurity(null, ca, null, null, "foo.test.google.fr"))) {
        assertEquals(List.of(), client.listModels()); // an empty store, over TLS
      }
      try (LetheClient plain = new LetheClient(target)) {
        RemoteException e = assertThrows(RemoteException.class, plain::listModels);
        assertEquals("UNAVAILABLE", e.code());
      }
    } finally {
      server.stop();
    }

    Security mutual = new Security(tls.tlsCert(), tls.tlsKey(), ca, Set.of(), Set.of(), false);
    LetheServer strict = LetheServer.netty(config(dir.resolve("b"), mutual), s -> {}).start();
    target = "127.0.0.1:" + strict.port();
    try {
      try (LetheClient anonymous = LetheClient.connect(target,
          new ClientSecurity(null, ca, null, null, "foo.test.google.fr"))) {
        assertThrows(RemoteException.class, anonymous::listModels);
      }
      try (LetheClient known = LetheClient.connect(target, new ClientSecurity(null,
          ca, cert("client.pem"), cert("client.key"), "foo.test.google.fr"))) {
        known.listModels();
      }
    } finally {
      strict.stop();
    }
  }

  @Test
  void bindingBeyondLoopbackWithoutTlsOrTokensWarns() throws Exception {
    java.util.logging.Logger logger = java.util.logging.Logger.getLogger(LetheServer.class.getName());
    List<String> warnings = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    java.util.logging.Handler handler = new java.util.logging.Handler() {
      @Override
      public void publish(java.util.logging.LogRecord r) {
        if (r.getLevel() == java.util.logging.Level.WARNING) {
          warnings.add(r.getMessage());
        }
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    logger.addHandler(handler);
    try {
      // Bound on every interface (no traffic leaves loopback: nothing connects).
      ServerConfig open = new ServerConfig("0.0.0.0:0", dir.resolve("open"),
          new StoreConfig(10, 1 << 20), 64 << 20, false, 5, EraseConfig.defaults(), 1L << 30,
          Security.none());
      LetheServer.netty(open, s -> {}).start().stop();
      assertTrue(warnings.stream().anyMatch(w -> w.contains("beyond loopback without TLS or tokens")),
          warnings.toString());
      warnings.clear();
      ServerConfig guarded = new ServerConfig("0.0.0.0:0", dir.resolve("guarded"),
          new StoreConfig(10, 1 << 20), 64 << 20, false, 5, EraseConfig.defaults(), 1L << 30,
          new Security(null, null, null, Set.of("w"), Set.of(), false));
      LetheServer.netty(guarded, s -> {}).start().stop();
      LetheServer.netty(config(dir.resolve("loopback"), Security.none()), s -> {}).start().stop();
      assertEquals(List.of(), warnings);
    } finally {
      logger.removeHandler(handler);
    }
  }
}
