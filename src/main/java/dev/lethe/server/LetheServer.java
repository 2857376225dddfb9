package dev.lethe.server;

import ai.onnxruntime.OrtEnvironment;
import dev.lethe.erase.Eraser;
import dev.lethe.fisher.Fishers;
import dev.lethe.fisher.Linalg;
import dev.lethe.fisher.FisherStore;
import dev.lethe.grpc.ModelStoreService;
import dev.lethe.storage.LetheDb;
import dev.lethe.store.LedgerKeys;
import dev.lethe.store.ModelStore;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import dev.lethe.grpc.MetricsInterceptor;
import dev.lethe.grpc.TokenAuthInterceptor;
import dev.lethe.metrics.LetheMetrics;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import java.net.InetSocketAddress;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionService;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * One Lethe sidecar: owns the store (RocksDB, ONNX Runtime sessions) and the gRPC server with
 * the ModelStore service, grpc.health.v1 and server reflection (v1 and v1alpha).
 *
 * <p>Lifecycle: {@link #start()} opens the store (health NOT_SERVING meanwhile), runs the
 * optional initializer (the demo model), starts serving and reports SERVING; {@link #stop()}
 * reports NOT_SERVING, drains calls for the grace period, cancels the rest, then closes the
 * store and RocksDB in that order. The server is built from an injected {@link ServerBuilder}
 * so tests pass an in-process one. Thread-safe; stop is idempotent.
 */
public final class LetheServer {
  private static final Logger LOG = Logger.getLogger(LetheServer.class.getName());

  private final ServerConfig config;
  private final ServerBuilder<?> builder;
  private final Consumer<ModelStore> initializer;
  private final HealthStatusManager health = new HealthStatusManager();
  private LetheDb db;
  private ModelStore store;
  private Fishers fishers;
  private final LetheMetrics metrics = new LetheMetrics();
  private Server server;
  private boolean stopped;
  /** Probes a full data volume until writes succeed again (health follows). */
  private final java.util.concurrent.ScheduledExecutorService volumeProbe =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
          new dev.lethe.core.DaemonThreads("volume-probe"));

  /** How often a full data volume is probed for free space. */
  static final long VOLUME_PROBE_MS = 500;

  /**
   * @param initializer runs once on the open store before serving (e.g. registers the demo
   *     model); may be a no-op
   */
  public LetheServer(ServerConfig config, ServerBuilder<?> builder, Consumer<ModelStore> initializer) {
    this.config = config;
    this.builder = builder;
    this.initializer = initializer;
  }

  /** HTTP/2 window per stream: model downloads move megabytes per round trip. */
  static final int FLOW_CONTROL_WINDOW = 8 << 20;

  /** A server on Netty bound to {@code config.listen()}. */
  public static LetheServer netty(ServerConfig config, Consumer<ModelStore> initializer)
      throws IOException {
    NettyServerBuilder builder =
        NettyServerBuilder.forAddress(new InetSocketAddress(config.host(), config.port()))
            .flowControlWindow(FLOW_CONTROL_WINDOW);
    Security security = config.security();
    if (security.tls()) {
      SslContextBuilder ssl =
          GrpcSslContexts.forServer(security.tlsCert().toFile(), security.tlsKey().toFile());
      if (security.clientCa() != null) {
        ssl.trustManager(security.clientCa().toFile()).clientAuth(ClientAuth.REQUIRE);
      }
      builder.sslContext(ssl.build());
    }
    return new LetheServer(config, builder, initializer);
  }

  public synchronized LetheServer start() throws IOException {
    health.setStatus("", ServingStatus.NOT_SERVING);
    health.setStatus(SERVICE, ServingStatus.NOT_SERVING);
    // Before anything is opened: an exposed setting without --insecure must not start at all.
    String exposure = config.security().checkExposure(config.host());
    if (exposure != null) {
      LOG.warning(exposure + ": any client that can reach it may be able to change and erase "
          + "models or read tokens; see docs/security.md");
    }
    dev.lethe.core.MemoryBudget budget = config.budget();
    dev.lethe.core.Memory.install(budget);
    db = LetheDb.open(config.dataDir());
    try {
      store = new ModelStore(db, OrtEnvironment.getEnvironment(), config.store(),
          config.ledgerSecretFile() == null ? LedgerKeys.inDataDir(config.dataDir())
              : LedgerKeys.load(config.ledgerSecretFile()));
      java.nio.file.Files.createDirectories(config.dataDir().resolve("tmp"));
      fishers = new Fishers(new FisherStore(db), config.fisherPoolThreads(),
          budget.fisherBytes(), config.dataDir().resolve("tmp"), config.fisherStorageBudgetBytes());
      LOG.info(() -> "Fisher pool of " + config.fisherPoolThreads() + " threads; linear algebra: "
          + Linalg.describe());
      // Before serving: debris of a crash (orphaned Fishers and weight sets, spill files of
      // raw samples) may hold erased samples' data.
      dev.lethe.store.OrphanSweep.Swept swept = store.sweepOrphans();
      int spills = fishers.sweepSpills();
      if (swept.fishers() + swept.weightSets() + spills > 0) {
        LOG.info("swept crash debris: " + swept.fishers() + " unreferenced Fishers, "
            + swept.weightSets() + " weight sets, " + spills + " spill files");
      }
      initializer.accept(store);
      Security security = config.security();
      if (security.tokens()) {
        builder.intercept(new TokenAuthInterceptor(security.writeTokens(), security.readTokens(),
            security.readsNeedToken()));
      }
      builder.intercept(new MetricsInterceptor(metrics));
      if (config.metricsListen() != null) {
        ServerConfig m = new ServerConfig(config.metricsListen(), config.dataDir(), config.store(),
            config.maxMessageBytes(), false, 0);
        metrics.serve(m.host(), m.port());
        LOG.info(() -> "metrics on http://" + config.metricsListen() + "/metrics (port "
            + metrics.port() + ")");
      }
      for (dev.lethe.store.ModelState info : store.list()) {
        metrics.model(info.name(), info.versions().size(), info.activeVersion());
      }
      server = builder
          .addService(new ModelStoreService(store,
              new Eraser(store, fishers, config.erase()),
              request -> fishers.startBuild(store.fisherTarget(request.name(), request.version()),
                  request),
              header -> fishers.startSums(store.fisherTarget(header.model(), header.version()),
                  header),
              config.maxMessageBytes(), metrics, config.maxWatchBehind()))
          .addService(health.getHealthService())
          .addService(ProtoReflectionServiceV1.newInstance())
          .addService(legacyReflection())
          .maxInboundMessageSize(config.maxMessageBytes())
          .build()
          .start();
    } catch (IOException | RuntimeException e) {
      closeStore();
      throw e;
    }
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus(SERVICE, ServingStatus.SERVING);
    watchVolume(db);
    LOG.info(() -> "Lethe serving on " + config.listen() + " (port " + server.getPort()
        + "), data in " + config.dataDir());
    return this;
  }

  /**
   * While the data volume is full, health reports NOT_SERVING (writes cannot succeed; a load
   * balancer should send writes elsewhere) and the volume is probed every
   * {@link #VOLUME_PROBE_MS} ms; the first probe write that succeeds resumes RocksDB and reports
   * SERVING again.
   */
  private void watchVolume(LetheDb database) {
    java.util.concurrent.atomic.AtomicBoolean probing = new java.util.concurrent.atomic.AtomicBoolean();
    database.onWritableChange(writable -> {
      ServingStatus status = writable ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
      // HealthStatusManager is thread-safe and ignores changes after stop's terminal state; no
      // lock here: this runs on the writing thread, which stop() may be waiting for.
      health.setStatus("", status);
      health.setStatus(SERVICE, status);
      if (writable) {
        LOG.info("data volume takes writes again: SERVING");
        return;
      }
      LOG.warning("data volume " + config.dataDir() + " is full: NOT_SERVING until writes succeed");
      if (probing.compareAndSet(false, true)) {
        volumeProbe.schedule(new Runnable() {
          @Override
          public void run() {
            boolean ok;
            try {
              ok = database.tryResume();
            } catch (IllegalStateException closed) {
              return; // the store closed meanwhile
            }
            if (ok) {
              probing.set(false);
            } else {
              volumeProbe.schedule(this, VOLUME_PROBE_MS, TimeUnit.MILLISECONDS);
            }
          }
        }, VOLUME_PROBE_MS, TimeUnit.MILLISECONDS);
      }
    });
  }

  /** The gRPC service name, for health checks. */
  public static final String SERVICE = "lethe.v1.ModelStore";

  @SuppressWarnings("deprecation")
  private static io.grpc.BindableService legacyReflection() {
    // v1alpha: older grpcurl releases speak only this version.
    return ProtoReflectionService.newInstance();
  }

  /** The bound port (useful when listening on port 0). */
  public synchronized int port() {
    return server.getPort();
  }

  public synchronized ModelStore store() {
    return store;
  }

  /** The Fisher facade (benchmarks apply the server's own Fishers through it). */
  public synchronized Fishers fishers() {
    return fishers;
  }

  /** The open RocksDB, for tools and tests that inspect it; owned by this server. */
  public synchronized LetheDb database() {
    return db;
  }

  /** Graceful stop: NOT_SERVING, drain for the grace period, cancel the rest, close the store. */
  public synchronized void stop() throws InterruptedException {
    if (stopped || server == null) {
      return;
    }
    stopped = true;
    health.enterTerminalState();
    server.shutdown();
    if (!server.awaitTermination(config.shutdownGraceSeconds(), TimeUnit.SECONDS)) {
      server.shutdownNow();
      server.awaitTermination(5, TimeUnit.SECONDS);
    }
    closeStore();
    LOG.info("Lethe stopped");
  }

  public void blockUntilShutdown() throws InterruptedException {
    Server s;
    synchronized (this) {
      s = server;
    }
    if (s != null) {
      s.awaitTermination();
    }
  }

  /** The metrics (and their endpoint's port when serving). */
  public LetheMetrics metrics() {
    return metrics;
  }

  private void closeStore() {
    volumeProbe.shutdownNow();
    metrics.close();
    // Sessions and open Fishers first (they read from RocksDB), then RocksDB.
    if (fishers != null) {
      fishers.close();
    }
    if (store != null) {
      store.close();
    }
    if (db != null) {
      db.close();
    }
  }
}
