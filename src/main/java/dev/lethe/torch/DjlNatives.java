package dev.lethe.torch;

import java.nio.file.Path;

/**
 * Points DJL's PyTorch engine at the natives inside the jar, offline, before the engine first
 * loads. The libtorch CPU build for linux-x86_64 ({@code pytorch-native-cpu}) and DJL's JNI bridge
 * ({@code pytorch-jni}) are dependencies of the jar; DJL extracts them once into its cache
 * directory and loads them from there. Nothing is downloaded: offline mode is set, and a missing
 * native is an error, not a download.
 *
 * <p>The cache directory, in order: the {@code DJL_CACHE_DIR} environment variable or system
 * property when set (DJL's own setting), else {@code <java.io.tmpdir>/lethe-djl} (a container's
 * /tmp is writable even when its home directory is not). The first TorchScript model extracts about 430 MB
 * there; later starts reuse it. {@code DJL_OFFLINE=false} in the environment re-enables DJL's
 * downloads (not needed on linux-x86_64). libtorch runs one intra-op and one inter-op thread
 * unless {@code -Dai.djl.pytorch.num_threads} / {@code num_interop_threads} say otherwise.
 *
 * <p>Stateless apart from the system properties it sets once; thread-safe.
 */
public final class DjlNatives {
  /** The cache directory used when neither DJL_CACHE_DIR nor ENGINE_CACHE_DIR is set. */
  public static final String DEFAULT_CACHE = "lethe-djl";

  private static volatile boolean configured;

  private DjlNatives() {}

  /** Sets DJL's offline mode, cache directory and engine before its first use. Idempotent. */
  public static synchronized void configure() {
    if (configured) {
      return;
    }
    if (System.getenv("DJL_OFFLINE") == null && System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
    if (unset("DJL_CACHE_DIR") && unset("ENGINE_CACHE_DIR")) {
      System.setProperty("DJL_CACHE_DIR",
          Path.of(System.getProperty("java.io.tmpdir"), DEFAULT_CACHE).toString());
    }
    // the default engine is the only one on the class path; naming it skips the engine scan
    if (System.getProperty("ai.djl.default_engine") == null) {
      System.setProperty("ai.djl.default_engine", "PyTorch");
    }
    // Per-sample autograd runs many tiny ops: one intra-op thread per call is fastest and does
    // not oversubscribe the cores that concurrent requests and ONNX Runtime share. Set
    // -Dai.djl.pytorch.num_threads=K for a large model.
    if (System.getProperty("ai.djl.pytorch.num_threads") == null) {
      System.setProperty("ai.djl.pytorch.num_threads", "1");
    }
    if (System.getProperty("ai.djl.pytorch.num_interop_threads") == null) {
      System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
    }
    configured = true;
  }

  /**
   * The PyTorch engine, its natives loaded (extracted to the cache on first use).
   *
   * @throws IllegalStateException when the natives cannot be loaded (a packaging fault)
   */
  public static ai.djl.engine.Engine engine() {
    configure();
    try {
      return ai.djl.engine.Engine.getEngine("PyTorch");
    } catch (RuntimeException | UnsatisfiedLinkError e) {
      throw new IllegalStateException("DJL's PyTorch engine did not load from the jar's natives "
          + "(cache " + System.getProperty("DJL_CACHE_DIR", System.getenv("DJL_CACHE_DIR"))
          + "): " + e.getMessage(), e);
    }
  }

  /** The cache directory DJL uses after {@link #configure()}. */
  public static Path cacheDir() {
    configure();
    return ai.djl.util.Utils.getEngineCacheDir("pytorch");
  }

  private static boolean unset(String name) {
    String env = System.getenv(name);
    String prop = System.getProperty(name);
    return (env == null || env.isEmpty()) && (prop == null || prop.isEmpty());
  }
}
