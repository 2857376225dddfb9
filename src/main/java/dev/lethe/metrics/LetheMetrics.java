package dev.lethe.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.net.InetAddress;

/**
 * Lethe's Prometheus metrics and, when asked, the HTTP endpoint that serves them at
 * {@code /metrics}. Owns its registry (not the global default, so several servers in one JVM,
 * as in tests, do not collide) and the HTTP server, which {@link #close()} stops. Recording
 * methods are thread-safe and cheap.
 */
public final class LetheMetrics implements AutoCloseable {
  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Counter rpcs = Counter.builder().name("lethe_rpc_requests_total")
      .help("RPCs by method and status code").labelNames("method", "code").register(registry);
  private final Histogram rpcSeconds = Histogram.builder().name("lethe_rpc_duration_seconds")
      .help("RPC latency by method").labelNames("method").register(registry);
  private final Counter erases = Counter.builder().name("lethe_erases_total")
      .help("Erase requests that made a new version").labelNames("model").register(registry);
  private final Counter samplesErased = Counter.builder().name("lethe_samples_erased_total")
      .help("Samples whose influence was removed").labelNames("model").register(registry);
  private final Histogram eraseStageSeconds = Histogram.builder().name("lethe_erase_stage_seconds")
      .help("Erase latency by stage: gradients, solve, store, swap").labelNames("stage")
      .register(registry);
  private final Gauge versions = Gauge.builder().name("lethe_model_versions")
      .help("Kept versions per model").labelNames("model").register(registry);
  private final Gauge activeVersion = Gauge.builder().name("lethe_model_active_version")
      .help("Active version per model").labelNames("model").register(registry);
  private final Gauge fisherBytes = Gauge.builder().name("lethe_fisher_bytes")
      .help("Stored inverse-Fisher bytes of the last build per model").labelNames("model")
      .register(registry);
  private final Gauge fisherBlocksDone = Gauge.builder().name("lethe_fisher_build_blocks_done")
      .help("Blocks inverted by the Fisher build in progress (or last)").labelNames("model")
      .register(registry);
  private final Gauge fisherBlocksTotal = Gauge.builder().name("lethe_fisher_build_blocks_total")
      .help("Blocks of the Fisher build in progress (or last)").labelNames("model")
      .register(registry);
  private final Counter gradientSamples = Counter.builder().name("lethe_gradient_samples_total")
      .help("Per-sample gradients computed for Gradients, Erase and BuildFisher (rate() = throughput)")
      .labelNames("model").register(registry);
  private HTTPServer http;

  /** Starts the /metrics endpoint on host:port (port 0 picks one). */
  public LetheMetrics serve(String host, int port) throws IOException {
    http = HTTPServer.builder().inetAddress(InetAddress.getByName(host)).port(port)
        .registry(registry).buildAndStart();
    return this;
  }

  /** The endpoint's port, or -1 when not serving. */
  public int port() {
    return http == null ? -1 : http.getPort();
  }

  public void rpc(String method, String code, double seconds) {
    rpcs.labelValues(method, code).inc();
    rpcSeconds.labelValues(method).observe(seconds);
  }

  public void erase(String model, long samples, double gradientsMs, double solveMs,
      double storeMs, double swapMs) {
    erases.labelValues(model).inc();
    samplesErased.labelValues(model).inc(samples);
    eraseStageSeconds.labelValues("gradients").observe(gradientsMs / 1e3);
    eraseStageSeconds.labelValues("solve").observe(solveMs / 1e3);
    eraseStageSeconds.labelValues("store").observe(storeMs / 1e3);
    eraseStageSeconds.labelValues("swap").observe(swapMs / 1e3);
  }

  public void model(String model, int keptVersions, long active) {
    versions.labelValues(model).set(keptVersions);
    activeVersion.labelValues(model).set(active);
  }

  public void fisherProgress(String model, int blocksDone, int blocksTotal) {
    fisherBlocksDone.labelValues(model).set(blocksDone);
    fisherBlocksTotal.labelValues(model).set(blocksTotal);
  }

  public void fisherBuilt(String model, long bytes) {
    fisherBytes.labelValues(model).set(bytes);
  }

  public void gradients(String model, long samples) {
    gradientSamples.labelValues(model).inc(samples);
  }

  /** Stops the endpoint. Idempotent. */
  @Override
  public void close() {
    if (http != null) {
      http.close();
      http = null;
    }
  }
}
