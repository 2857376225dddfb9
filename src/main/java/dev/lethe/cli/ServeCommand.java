package dev.lethe.cli;

import dev.lethe.core.MemoryBudget;
import dev.lethe.erase.EraseConfig;
import dev.lethe.onnx.GraphLimits;
import dev.lethe.onnx.OrtSessions;
import dev.lethe.server.LetheServer;
import dev.lethe.storage.StoreLockedException;
import dev.lethe.server.Security;
import java.util.HashSet;
import java.util.Set;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Run the sidecar (the default command). Every flag can also be set by its environment variable.")
final class ServeCommand implements Callable<Integer> {
  @Option(names = "--listen", defaultValue = "${env:LETHE_LISTEN:-" + ServerConfig.DEFAULT_LISTEN + "}",
      description = "Address to bind, host:port (env LETHE_LISTEN; default ${DEFAULT-VALUE}).")
  String listen;

  @Option(names = "--data-dir", defaultValue = "${env:LETHE_DATA_DIR:-./lethe-data}",
      description = "Store directory (env LETHE_DATA_DIR; default ${DEFAULT-VALUE}).")
  Path dataDir;

  @Option(names = "--retention", defaultValue = "${env:LETHE_RETENTION:-10}",
      description = "Versions kept per model; the active one is never dropped (env LETHE_RETENTION; default ${DEFAULT-VALUE}).")
  int retention;

  @Option(names = "--max-model-bytes", defaultValue = "${env:LETHE_MAX_MODEL_BYTES:-1073741824}",
      description = "Largest accepted ONNX upload (env LETHE_MAX_MODEL_BYTES; default ${DEFAULT-VALUE}).")
  long maxModelBytes;

  @Option(names = "--max-message-bytes", defaultValue = "${env:LETHE_MAX_MESSAGE_BYTES:-0}",
      description = "Largest inbound gRPC message, e.g. an Evaluate batch (env LETHE_MAX_MESSAGE_BYTES; default 0 = the memory budget's request share, at most 64 MiB).")
  int maxMessageBytes;

  @Option(names = "--export-dir", defaultValue = "${env:LETHE_EXPORT_DIR}",
      description = "Also write each active version as <dir>/<model>/<version>/model.onnx with a config.pbtxt naming it (Triton repository layout; env LETHE_EXPORT_DIR; default: none).")
  Path exportDir;

  @Option(names = "--max-erase-samples", defaultValue = "${env:LETHE_MAX_ERASE_SAMPLES:-10000}",
      description = "Largest Erase batch (env LETHE_MAX_ERASE_SAMPLES; default ${DEFAULT-VALUE}).")
  int maxEraseSamples;

  @Option(names = "--max-update-ratio", defaultValue = "${env:LETHE_MAX_UPDATE_RATIO:-1.0}",
      description = "Refuse an erase whose update norm exceeds this multiple of |θ| (env LETHE_MAX_UPDATE_RATIO; default ${DEFAULT-VALUE}).")
  double maxUpdateRatio;

  // Memory (see the README's sizing guide): one budget from the JVM's limits, split at start.
  @Option(names = "--fisher-memory-bytes", defaultValue = "${env:LETHE_FISHER_MEMORY_BYTES:-0}",
      description = "Heap for the block accumulators of Fisher builds; beyond it a build makes more passes over a temporary spill of the samples (env LETHE_FISHER_MEMORY_BYTES; default 0 = "
          + MemoryBudget.FISHER_PERCENT + "% of the heap budget after the server's reserve).")
  long fisherMemoryBytes;

  @Option(names = "--fisher-storage-budget-bytes",
      defaultValue = "${env:LETHE_FISHER_STORAGE_BUDGET_BYTES:-4294967296}",
      description = "AUTO Fisher structure: a build is block-diagonal while that Fisher's stored bytes (F^-1 and F beside it) fit this budget, else EKFAC (env LETHE_FISHER_STORAGE_BUDGET_BYTES; default 4294967296 = 4 GiB).")
  long fisherStorageBudgetBytes;

  @Option(names = "--gradient-memory-bytes", defaultValue = "${env:LETHE_GRADIENT_MEMORY_BYTES:-0}",
      description = "Direct memory for the gradient buffers of all models' ONNX Runtime runs, one pool (env LETHE_GRADIENT_MEMORY_BYTES; default 0 = "
          + MemoryBudget.GRADIENT_PERCENT + "% of the direct budget).")
  long gradientMemoryBytes;

  @Option(names = "--heap-budget-bytes", defaultValue = "${env:LETHE_HEAP_BUDGET_BYTES:-0}",
      description = "Heap the memory budget is split from (env LETHE_HEAP_BUDGET_BYTES; default 0 = the JVM's -Xmx).")
  long heapBudgetBytes;

  @Option(names = "--direct-budget-bytes", defaultValue = "${env:LETHE_DIRECT_BUDGET_BYTES:-0}",
      description = "Direct memory the budget is split from (env LETHE_DIRECT_BUDGET_BYTES; default 0 = the JVM's -XX:MaxDirectMemorySize, which is -Xmx when unset).")
  long directBudgetBytes;

  @Option(names = "--max-watch-behind", defaultValue = "${env:LETHE_MAX_WATCH_BEHIND:-" + ServerConfig.DEFAULT_MAX_WATCH_BEHIND + "}",
      description = "Changes a WatchModel subscriber that does not read may fall behind before it is cancelled with RESOURCE_EXHAUSTED (env LETHE_MAX_WATCH_BEHIND; default ${DEFAULT-VALUE}).")
  int maxWatchBehind;

  @Option(names = "--tls-cert", defaultValue = "${env:LETHE_TLS_CERT}",
      description = "PEM certificate chain: serve TLS (env LETHE_TLS_CERT; with --tls-key).")
  Path tlsCert;

  @Option(names = "--tls-key", defaultValue = "${env:LETHE_TLS_KEY}",
      description = "PEM private key, PKCS#8 (env LETHE_TLS_KEY).")
  Path tlsKey;

  @Option(names = "--tls-client-ca", defaultValue = "${env:LETHE_TLS_CLIENT_CA}",
      description = "PEM CA that client certificates must chain to: mutual TLS (env LETHE_TLS_CLIENT_CA).")
  Path tlsClientCa;

  @Option(names = "--token-file", defaultValue = "${env:LETHE_TOKEN_FILE}",
      description = "Bearer tokens, one per line: 'write <t>', 'read <t>' or a bare (write) token. "
          + "Mutating RPCs then need a write token (env LETHE_TOKEN_FILE).")
  Path tokenFile;

  @Option(names = "--read-token-required", negatable = true,
      defaultValue = "${env:LETHE_READ_TOKEN_REQUIRED:-false}", fallbackValue = "true",
      description = "Read-only RPCs need a read or write token too (env LETHE_READ_TOKEN_REQUIRED; default ${DEFAULT-VALUE}).")
  boolean readTokenRequired;

  @Option(names = "--insecure", negatable = true,
      defaultValue = "${env:LETHE_INSECURE:-false}", fallbackValue = "true",
      description = "Allow binding beyond loopback without tokens, or with tokens over plaintext; "
          + "refused otherwise (env LETHE_INSECURE; default ${DEFAULT-VALUE}).")
  boolean insecure;

  @Option(names = "--max-graph-nodes", defaultValue = "${env:LETHE_MAX_GRAPH_NODES:-" + GraphLimits.DEFAULT_MAX_NODES + "}",
      description = "Most nodes an uploaded model may have, subgraphs included (env LETHE_MAX_GRAPH_NODES; default ${DEFAULT-VALUE}).")
  long maxGraphNodes;

  @Option(names = "--max-graph-depth", defaultValue = "${env:LETHE_MAX_GRAPH_DEPTH:-" + GraphLimits.DEFAULT_MAX_DEPTH + "}",
      description = "How deep an uploaded model's subgraphs (If/Loop/Scan) may nest (env LETHE_MAX_GRAPH_DEPTH; default ${DEFAULT-VALUE}).")
  int maxGraphDepth;

  @Option(names = "--max-tensor-elements", defaultValue = "${env:LETHE_MAX_TENSOR_ELEMENTS:-" + GraphLimits.DEFAULT_MAX_ELEMENTS + "}",
      description = "Most elements any tensor of an uploaded model may declare (env LETHE_MAX_TENSOR_ELEMENTS; default ${DEFAULT-VALUE}).")
  long maxTensorElements;

  @Option(names = "--max-session-seconds", defaultValue = "${env:LETHE_MAX_SESSION_SECONDS:-60}",
      description = "Longest ONNX Runtime may take to load a model before the upload is refused with"
          + " RESOURCE_EXHAUSTED (env LETHE_MAX_SESSION_SECONDS; default ${DEFAULT-VALUE}).")
  double maxSessionSeconds;

  @Option(names = "--ledger-secret-file", defaultValue = "${env:LETHE_LEDGER_SECRET_FILE}",
      description = "The secret erased ids are keyed by in the ledger (HMAC-SHA256), one per line, current first; "
          + "e.g. a mounted Kubernetes Secret (env LETHE_LEDGER_SECRET_FILE; default: <data-dir>/ledger-secret, created on first start).")
  Path ledgerSecretFile;

  @Option(names = "--metrics-listen", defaultValue = "${env:LETHE_METRICS_LISTEN}",
      description = "host:port of a Prometheus endpoint at /metrics (env LETHE_METRICS_LISTEN; default: off).")
  String metricsListen;

  @Option(names = "--demo", negatable = true, defaultValue = "${env:LETHE_DEMO:-true}", fallbackValue = "true",
      description = "Register the digits demo model when the store is empty (env LETHE_DEMO; default ${DEFAULT-VALUE}).")
  boolean demo;

  @Option(names = "--shutdown-grace", defaultValue = "${env:LETHE_SHUTDOWN_GRACE_SECONDS:-20}",
      description = "Seconds in-flight calls may take after SIGTERM (env LETHE_SHUTDOWN_GRACE_SECONDS; default ${DEFAULT-VALUE}).")
  int shutdownGrace;

  @Option(names = "--fisher-threads", defaultValue = "${env:LETHE_FISHER_THREADS:-0}",
      description = "Threads of the Fisher pool: builds, applies and downdates (env LETHE_FISHER_THREADS;"
          + " default 0 = one per core). With a native BLAS a build's Gram updates are threaded by"
          + " BLAS itself (bound it with OPENBLAS_NUM_THREADS).")
  int fisherThreads;

  @Override
  public Integer call() throws Exception {
    MemoryBudget budget = MemoryBudget.of(heapBudgetBytes, directBudgetBytes, fisherMemoryBytes,
        gradientMemoryBytes);
    if (maxMessageBytes < 0) {
      throw new IllegalArgumentException("--max-message-bytes must be >= 0 (0 = from the memory budget), got "
          + maxMessageBytes);
    }
    int messageBytes = maxMessageBytes > 0 ? maxMessageBytes : budget.defaultMaxMessageBytes();
    ServerConfig config = new ServerConfig(listen, dataDir,
        new StoreConfig(retention, maxModelBytes, exportDir,
            new GraphLimits(maxGraphNodes, maxGraphDepth, maxTensorElements)),
        messageBytes, demo, shutdownGrace,
        new EraseConfig(maxEraseSamples, maxUpdateRatio, budget.rowChunkBytes()), budget.fisherBytes());
    Set<String> write = new HashSet<>();
    Set<String> read = new HashSet<>();
    if (tokenFile != null) {
      Security.Tokens tokens = Security.loadTokens(tokenFile);
      write.addAll(tokens.write());
      read.addAll(tokens.read());
    }
    String envToken = System.getenv("LETHE_TOKEN");
    if (envToken != null) {
      // Set but empty is a template whose variable came out empty: fail closed, not open.
      if (envToken.isBlank() || envToken.strip().split("\\s+").length != 1) {
        throw new IllegalArgumentException("LETHE_TOKEN is set but is not one token (it is "
            + (envToken.isBlank() ? "empty" : "several words") + "); unset it to run without");
      }
      write.add(envToken.strip());
    }
    config = new ServerConfig(config.listen(), config.dataDir(), config.store(),
        config.maxMessageBytes(), config.demo(), config.shutdownGraceSeconds(), config.erase(),
        config.fisherMemoryBytes(),
        new Security(tlsCert, tlsKey, tlsClientCa, write, read, readTokenRequired, insecure),
        metricsListen, ledgerSecretFile, fisherThreads, budget, maxWatchBehind,
        fisherStorageBudgetBytes);
    OrtSessions.setMaxMillis(Math.max(1, Math.round(maxSessionSeconds * 1000)));
    LetheServer server = LetheServer.netty(config, Demo.initializer(config.demo()));
    java.util.concurrent.atomic.AtomicBoolean failed = new java.util.concurrent.atomic.AtomicBoolean();
    // Registered before start, so a SIGTERM that arrives while the store opens still drains.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      if (failed.get()) {
        return; // the JVM exits because start failed, not on a signal: nothing to drain
      }
      // java.util.logging closes its handlers in its own shutdown hook, so write directly.
      System.err.println("lethe: SIGTERM, draining calls (up to " + shutdownGrace + " s)");
      try {
        server.stop();
        System.err.println("lethe: stopped cleanly, store closed");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "lethe-shutdown"));
    try {
      server.start();
    } catch (StoreLockedException e) {
      failed.set(true);
      System.err.println("error: " + e.getMessage());
      return 2;
    } catch (RuntimeException | java.io.IOException e) {
      failed.set(true);
      throw e;
    }
    server.blockUntilShutdown();
    return 0;
  }
}
