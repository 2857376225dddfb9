package dev.lethe.onnx;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lethe.core.DaemonThreads;
import dev.lethe.core.LetheException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Every ONNX Runtime session Lethe creates, under one time limit ({@code --max-session-seconds}):
 * a graph that ORT takes longer than that to load is answered RESOURCE_EXHAUSTED and nothing is
 * registered, instead of holding the request past its deadline. ORT cannot cancel a session
 * being created, so the creation finishes on its own daemon thread and the session is then
 * closed; the upload bounds ({@link GraphLimits}) keep that work small in the first place.
 *
 * <p>Thread-safe. The limit is process-wide, set once at start by the server.
 */
public final class OrtSessions {
  /** Default limit on creating one session. */
  public static final long DEFAULT_MAX_MILLIS = 60_000;

  private static final ExecutorService CREATORS =
      Executors.newCachedThreadPool(new DaemonThreads("ort-session"));
  private static volatile long maxMillis = DEFAULT_MAX_MILLIS;

  private OrtSessions() {}

  /** Sets the limit for sessions created from now on; returns the previous one. */
  public static long setMaxMillis(long millis) {
    if (millis < 1) {
      throw new IllegalArgumentException("--max-session-seconds must be > 0, got " + millis + " ms");
    }
    long previous = maxMillis;
    maxMillis = millis;
    return previous;
  }

  /**
   * Creates a session of {@code model} ({@code intraOpThreads} 0 = ORT's default); a model
   * with {@link ExternalData} reads those initializers from its file, which must exist now.
   *
   * @throws LetheException RESOURCE_EXHAUSTED (field chunk) past the time limit
   * @throws OrtException when ONNX Runtime refuses the model
   */
  static OrtSession create(OrtEnvironment env, OnnxMl.ModelProto model, int intraOpThreads)
      throws OrtException {
    long limit = maxMillis;
    // A structure whose large initializers stay in the model's file (ExternalData): ORT reads
    // them from there, natively, so the serialised model is small.
    java.nio.file.Path folder = ExternalData.externalBytes(model) > 0 ? ExternalData.folder(model) : null;
    byte[] bytes = model.toByteArray();
    CompletableFuture<OrtSession> creation = CompletableFuture.supplyAsync(() -> {
      try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
        // No per-session arena and no per-shape memory plans: ONNX Runtime returns a run's
        // working memory when the run ends, so an idle model holds none (the arena would keep
        // its largest run's memory for the session's lifetime, per model).
        options.setCPUArenaAllocator(false);
        options.setMemoryPatternOptimization(false);
        if (intraOpThreads > 0) {
          options.setIntraOpNumThreads(intraOpThreads);
        }
        if (folder != null) {
          options.addConfigEntry(ExternalData.ORT_FOLDER_CONFIG, folder.toString());
          // Pre-packing would keep a second, packed copy of each frozen weight per session.
          options.addConfigEntry("session.disable_prepacking", "1");
        }
        return env.createSession(bytes, options);
      } catch (OrtException e) {
        throw new CompletionException(e);
      }
    }, CREATORS);
    try {
      return creation.get(limit, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      creation.thenAccept(OrtSessions::closeQuietly);
      throw LetheException.tooLarge("chunk", "ONNX Runtime took longer than " + limit / 1000.0
          + " s to load the model (--max-session-seconds); nothing was registered");
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() instanceof CompletionException c ? c.getCause() : e.getCause();
      if (cause instanceof OrtException ort) {
        throw ort;
      }
      if (cause instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException("creating an ONNX Runtime session failed", cause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      creation.thenAccept(OrtSessions::closeQuietly);
      throw new IllegalStateException("interrupted while ONNX Runtime created a session", e);
    }
  }

  private static void closeQuietly(OrtSession session) {
    try {
      session.close();
    } catch (OrtException e) {
      // the session was never used; nothing more to release
    }
  }
}
