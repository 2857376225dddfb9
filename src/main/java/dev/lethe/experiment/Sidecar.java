package dev.lethe.experiment;

import dev.lethe.client.ClientSecurity;
import dev.lethe.client.LetheClient;
import dev.lethe.erase.EraseConfig;
import dev.lethe.server.LetheServer;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The sidecar an evaluation talks to over gRPC: a running one at a target, or an embedded one
 * started on a loopback port with a temporary store that {@link #close} deletes. The evaluation
 * only uses the public API through {@link #client()}. Owns the client (and the embedded server).
 */
final class Sidecar implements AutoCloseable {
  /** Erase limits of the embedded sidecar: removals of up to a whole class in one request. */
  static final EraseConfig ERASE_LIMITS = new EraseConfig(20_000, 10.0, 64L << 20);
  private final LetheClient client;
  private final LetheServer server;
  private final Path dir;
  private final String where;

  private Sidecar(LetheClient client, LetheServer server, Path dir, String where) {
    this.client = client;
    this.server = server;
    this.dir = dir;
    this.where = where;
  }

  /** Connects to a running sidecar. */
  static Sidecar remote(String target, ClientSecurity security) throws IOException {
    return new Sidecar(LetheClient.connect(target, security), null, null, "sidecar at " + target);
  }

  /** Starts an embedded sidecar on 127.0.0.1 (Fisher memory budget {@code fisherBytes}). */
  static Sidecar embedded(long fisherBytes) throws IOException {
    Path dir = Files.createTempDirectory("lethe-evaluate");
    ServerConfig config = new ServerConfig("127.0.0.1:0", dir.resolve("data"),
        new StoreConfig(1000, StoreConfig.DEFAULT_MAX_MODEL_BYTES),
        ServerConfig.DEFAULT_MAX_MESSAGE_BYTES, false, 5, ERASE_LIMITS, fisherBytes);
    LetheServer server = LetheServer.netty(config, s -> {}).start();
    String target = "127.0.0.1:" + server.port();
    return new Sidecar(new LetheClient(target), server, dir,
        "embedded sidecar on " + target + " (temporary store)");
  }

  LetheClient client() {
    return client;
  }

  String describe() {
    return where;
  }

  @Override
  public void close() throws Exception {
    client.close();
    if (server != null) {
      server.stop();
      try (Stream<Path> paths = Files.walk(dir)) {
        paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
