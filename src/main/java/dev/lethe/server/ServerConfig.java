package dev.lethe.server;

import dev.lethe.core.MemoryBudget;
import dev.lethe.erase.EraseConfig;
import dev.lethe.store.StoreConfig;
import java.nio.file.Path;

/**
 * Settings of one sidecar process.
 *
 * @param listen host:port to bind (default 127.0.0.1:50051)
 * @param dataDir the RocksDB directory
 * @param store retention and size limits
 * @param maxMessageBytes largest inbound gRPC message (Evaluate batches, chunks)
 * @param demo register the digits demo model when the store is empty
 * @param shutdownGraceSeconds how long in-flight calls may take after SIGTERM
 * @param erase erase limits and guards
 * @param fisherMemoryBytes heap for a Fisher build's accumulators; beyond it the build makes
 *     more passes over a temporary spill of the samples
 * @param security TLS and access tokens
 * @param metricsListen host:port of the Prometheus endpoint, or null for none
 * @param ledgerSecretFile the ledger secret ({@code --ledger-secret-file}, e.g. a mounted
 *     Kubernetes Secret), or null for {@code <dataDir>/ledger-secret}, created on first start
 * @param fisherThreads threads of the Fisher pool (builds, applies, downdates); 0 = one per core
 * @param memory the memory budget the server installs ({@link dev.lethe.core.Memory#install});
 *     null = this JVM's limits split by default, with {@code fisherMemoryBytes} as the Fisher
 *     share
 * @param maxWatchBehind changes a WatchModel subscriber may fall behind before it is cancelled
 * @param fisherStorageBudgetBytes AUTO's storage budget ({@code --fisher-storage-budget-bytes}):
 *     a build whose structure is AUTO is block-diagonal while that Fisher's stored bytes (F⁻¹
 *     and F) fit it, else EKFAC
 */
public record ServerConfig(
    String listen,
    Path dataDir,
    StoreConfig store,
    int maxMessageBytes,
    boolean demo,
    int shutdownGraceSeconds,
    EraseConfig erase,
    long fisherMemoryBytes,
    Security security,
    String metricsListen,
    Path ledgerSecretFile,
    int fisherThreads,
    MemoryBudget memory,
    int maxWatchBehind,
    long fisherStorageBudgetBytes) {

  /** Default {@link #maxWatchBehind}. */
  public static final int DEFAULT_MAX_WATCH_BEHIND = 1000;

  public ServerConfig {
    if (fisherThreads < 0) {
      throw new IllegalArgumentException("--fisher-threads must be >= 0 (0 = one per core), got "
          + fisherThreads);
    }
    if (maxWatchBehind < 1) {
      throw new IllegalArgumentException("--max-watch-behind must be >= 1, got " + maxWatchBehind);
    }
    if (fisherStorageBudgetBytes < 1) {
      throw new IllegalArgumentException("--fisher-storage-budget-bytes must be >= 1, got "
          + fisherStorageBudgetBytes);
    }
  }

  /** The default AUTO storage budget ({@link dev.lethe.fisher.Fishers#DEFAULT_STORAGE_BUDGET}). */
  public ServerConfig(String listen, Path dataDir, StoreConfig store, int maxMessageBytes,
      boolean demo, int shutdownGraceSeconds, EraseConfig erase, long fisherMemoryBytes,
      Security security, String metricsListen, Path ledgerSecretFile, int fisherThreads,
      MemoryBudget memory, int maxWatchBehind) {
    this(listen, dataDir, store, maxMessageBytes, demo, shutdownGraceSeconds, erase,
        fisherMemoryBytes, security, metricsListen, ledgerSecretFile, fisherThreads, memory,
        maxWatchBehind, dev.lethe.fisher.Fishers.DEFAULT_STORAGE_BUDGET);
  }

  /** This JVM's limits split by default; the default watch limit. */
  public ServerConfig(String listen, Path dataDir, StoreConfig store, int maxMessageBytes,
      boolean demo, int shutdownGraceSeconds, EraseConfig erase, long fisherMemoryBytes,
      Security security, String metricsListen, Path ledgerSecretFile, int fisherThreads) {
    this(listen, dataDir, store, maxMessageBytes, demo, shutdownGraceSeconds, erase,
        fisherMemoryBytes, security, metricsListen, ledgerSecretFile, fisherThreads, null,
        DEFAULT_MAX_WATCH_BEHIND);
  }

  /** The budget the server runs under: {@link #memory}, or the default split. */
  public MemoryBudget budget() {
    return memory != null ? memory : MemoryBudget.of(0, 0, fisherMemoryBytes, 0);
  }

  /** The ledger secret in the data directory; all cores for the Fisher pool. */
  public ServerConfig(String listen, Path dataDir, StoreConfig store, int maxMessageBytes,
      boolean demo, int shutdownGraceSeconds, EraseConfig erase, long fisherMemoryBytes,
      Security security, String metricsListen) {
    this(listen, dataDir, store, maxMessageBytes, demo, shutdownGraceSeconds, erase,
        fisherMemoryBytes, security, metricsListen, null, 0);
  }

  /** All cores for the Fisher pool. */
  public ServerConfig(String listen, Path dataDir, StoreConfig store, int maxMessageBytes,
      boolean demo, int shutdownGraceSeconds, EraseConfig erase, long fisherMemoryBytes,
      Security security, String metricsListen, Path ledgerSecretFile) {
    this(listen, dataDir, store, maxMessageBytes, demo, shutdownGraceSeconds, erase,
        fisherMemoryBytes, security, metricsListen, ledgerSecretFile, 0);
  }

  /** The Fisher pool's size: {@link #fisherThreads}, or the available processors for 0. */
  public int fisherPoolThreads() {
    return fisherThreads > 0 ? fisherThreads : Runtime.getRuntime().availableProcessors();
  }

  /** Plaintext, no tokens. */
  public ServerConfig(String listen, Path dataDir, StoreConfig store, int maxMessageBytes,
      boolean demo, int shutdownGraceSeconds, EraseConfig erase, long fisherMemoryBytes) {
    this(listen, dataDir, store, maxMessageBytes, demo, shutdownGraceSeconds, erase,
        fisherMemoryBytes, Security.none(), null);
  }

  /** No metrics endpoint. */
  public ServerConfig(String listen, Path dataDir, StoreConfig store, int maxMessageBytes,
      boolean demo, int shutdownGraceSeconds, EraseConfig erase, long fisherMemoryBytes,
      Security security) {
    this(listen, dataDir, store, maxMessageBytes, demo, shutdownGraceSeconds, erase,
        fisherMemoryBytes, security, null);
  }

  /** The settings with default erase limits. */
  public ServerConfig(String listen, Path dataDir, StoreConfig store, int maxMessageBytes,
      boolean demo, int shutdownGraceSeconds) {
    this(listen, dataDir, store, maxMessageBytes, demo, shutdownGraceSeconds, EraseConfig.defaults(),
        DEFAULT_FISHER_MEMORY_BYTES);
  }

  public static final long DEFAULT_FISHER_MEMORY_BYTES = 1L << 30;
  public static final String DEFAULT_LISTEN = "127.0.0.1:50051";
  public static final int DEFAULT_MAX_MESSAGE_BYTES = 64 << 20;

  /** Host part of {@link #listen()}. */
  public String host() {
    int colon = listen.lastIndexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("--listen must be host:port, got " + listen);
    }
    String host = listen.substring(0, colon);
    return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
  }

  /** Port part of {@link #listen()}; 0 picks a free port. */
  public int port() {
    try {
      int port = Integer.parseInt(listen.substring(listen.lastIndexOf(':') + 1));
      if (port < 0 || port > 65535) {
        throw new NumberFormatException();
      }
      return port;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--listen must be host:port with a port in 0..65535, got "
          + listen);
    }
  }
}
