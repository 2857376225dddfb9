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
    Security.Tokens t = Security.loadTokens(file);
    assertEquals(Set.of("abc", "bare"), t.write());
    assertEquals(Set.of("def"), t.read());
    Files.writeString(file, "write abc\nadmin xyz\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Security.loadTokens(file));
    assertTrue(e.getMessage().contains(":2:") && e.getMessage().contains("unknown kind 'admin'"), e.getMessage());
  }

  @Test
  void tokenFilesFailClosed() throws Exception {
    Path file = dir.resolve("tokens");
    // Finding 4: "read " (a template whose variable came out empty) became the write token "read".
    for (String broken : List.of("write abc\nread \n", "read\n", "write\t\n", "write a b\n",
        "write to\u001cken\n", "read t\u00f6ken\n")) {
      Files.writeString(file, broken);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Security.loadTokens(file), broken);
      assertTrue(e.getMessage().startsWith(file + ":"), e.getMessage());
    }
    Files.writeString(file, "write abc\nread \n");
    IllegalArgumentException kind = assertThrows(IllegalArgumentException.class, () -> Security.loadTokens(file));
    assertTrue(kind.getMessage().contains(":2:") && kind.getMessage().contains("'read' has no token"),
        kind.getMessage());
    // A file of only comments used to disable auth silently.
    Files.writeString(file, "# tokens go here\n\n   \n# none yet\n");
    IllegalArgumentException empty = assertThrows(IllegalArgumentException.class, () -> Security.loadTokens(file));
    assertTrue(empty.getMessage().contains("no token"), empty.getMessage());
  }

  @Test
  void sensitiveReadsNeedATokenWheneverTokensAreConfigured() throws Exception {
    Security tokens = new Security(null, null, null, Set.of("w"), Set.of("r"), false);
    try (ServerHarness h = new ServerHarness(config(dir, tokens),
        store -> store.put(Fixtures.spec("mlp"), Fixtures.mlp(1).onnx()))) {
      var list = dev.lethe.api.v1.ListErasuresRequest.newBuilder().setName("mlp").build();
      var check = dev.lethe.api.v1.CheckErasureRequest.newBuilder().setName("mlp").addIds("s0").build();
      var grads = dev.lethe.api.v1.GradientsRequest.newBuilder().setName("mlp")
          .setSamples(SampleMessages.batch(Fixtures.batch(1, 2))).build();
      assertCode(Status.Code.UNAUTHENTICATED, () -> h.blocking.listErasures(list));
      assertCode(Status.Code.UNAUTHENTICATED, () -> h.blocking.checkErasure(check));
      assertCode(Status.Code.UNAUTHENTICATED, () -> h.blocking.gradients(grads));
      assertCode(Status.Code.UNAUTHENTICATED, () -> as(h, "wrong").gradients(grads));
      // Other reads stay open without --read-token-required.
      assertEquals(1, h.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsCount());
      assertEquals(0, as(h, "r").listErasures(list).getErasuresCount());
      assertEquals(List.of(false), as(h, "r").checkErasure(check).getStatusesList().stream()
          .map(x -> x.getErased()).toList());
      assertEquals(2, as(h, "w").gradients(grads).getLossesCount());
    }
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
  void bindingBeyondLoopbackNeedsTokensAndTlsOrInsecure() throws Exception {
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
    Path tlsCert = cert("server1.pem");
    Path tlsKey = cert("server1.key");
    try {
      // Bound on every interface (no traffic leaves loopback: nothing connects).
      Security none = Security.none();
      Security tokensOnly = new Security(null, null, null, Set.of("w"), Set.of(), false);
      Security tlsOnly = new Security(tlsCert, tlsKey, null, Set.of(), Set.of(), false);
      Security both = new Security(tlsCert, tlsKey, null, Set.of("w"), Set.of(), false);
      for (Security refused : List.of(none, tokensOnly, tlsOnly)) {
        Path data = dir.resolve("refused-" + refused.tokens() + refused.tls());
        ServerConfig exposed = new ServerConfig("0.0.0.0:0", data,
            new StoreConfig(10, 1 << 20), 64 << 20, false, 5, EraseConfig.defaults(), 1L << 30, refused);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> LetheServer.netty(exposed, s -> {}).start());
        assertTrue(e.getMessage().contains("--insecure"), e.getMessage());
        assertTrue(Files.notExists(data), "a refused start must not create the store: " + data);
      }
      assertTrue(warnings.isEmpty(), warnings.toString());
      // With --insecure it starts, and says why it is exposed.
      Security insecure = new Security(null, null, null, Set.of("w"), Set.of(), false, true);
      ServerConfig open = new ServerConfig("0.0.0.0:0", dir.resolve("open"),
          new StoreConfig(10, 1 << 20), 64 << 20, false, 5, EraseConfig.defaults(), 1L << 30, insecure);
      LetheServer.netty(open, s -> {}).start().stop();
      assertTrue(warnings.stream().anyMatch(w -> w.contains("tokens over plaintext")
          && w.contains("--insecure")), warnings.toString());
      warnings.clear();
      ServerConfig guarded = new ServerConfig("0.0.0.0:0", dir.resolve("guarded"),
          new StoreConfig(10, 1 << 20), 64 << 20, false, 5, EraseConfig.defaults(), 1L << 30, both);
      LetheServer.netty(guarded, s -> {}).start().stop();
      LetheServer.netty(config(dir.resolve("loopback"), Security.none()), s -> {}).start().stop();
      assertEquals(List.of(), warnings);
    } finally {
      logger.removeHandler(handler);
    }
  }
}
