package dev.lethe.bench;

import dev.lethe.client.LetheClient;
import dev.lethe.client.RemoteException;
import dev.lethe.core.Batches;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.InversionMethod;
import dev.lethe.train.Mlp;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The sidecar's resident set (RSS, what a pod's memory limit counts) in one run, beside the
 * memory budget it computed: {@code lethe serve} is started as a child JVM with {@code -Xmx}
 * (the demo registered), measured idle (the baseline), then sampled every 10 ms during a
 * BuildFisher of a 784-H-10 MLP on synthetic samples (blocks of 1024) and during {@code streams}
 * concurrent full Gradients streams on it. Linux only (reads /proc/PID/status).
 *
 * <p>Usage: {@code lethe bench memory [heapMiB=512] [hidden=128] [samples=500] [streams=32]
 * [seconds=10]}.
 */
public final class MemoryBench {
  private static final Pattern PORT = Pattern.compile("\\(port (\\d+)\\)");
  private static final Pattern BUDGET = Pattern.compile("memory budget: .*");

  private MemoryBench() {}

  public static void main(String[] args) throws Exception {
    int heapMiB = BenchSupport.intArg(args, 0, 512);
    int hidden = BenchSupport.intArg(args, 1, 128);
    int samples = BenchSupport.intArg(args, 2, 500);
    int streams = BenchSupport.intArg(args, 3, 32);
    int seconds = BenchSupport.intArg(args, 4, 10);
    Path dir = Files.createTempDirectory("lethe-memory");
    Path log = dir.resolve("serve.log");
    Process server = start(dir, log, heapMiB);
    try {
      int port = awaitPort(server, log);
      String budget = find(BUDGET, Files.readString(log));
      Thread.sleep(3000); // let start-up settle (JIT, the demo's first runs)
      long idle = sample(server.pid(), 2000);
      Mlp mlp = Mlp.initial(784, hidden, 10, new Random(7));
      Samples batch = synthetic(new Random(8), samples, 784, 10);
      try (LetheClient client = new LetheClient("127.0.0.1:" + port)) {
        client.putModel(new ModelConfig("mlp", LossFunction.SOFTMAX_CROSS_ENTROPY, Mlp.LOGITS,
            Mlp.PARAMETERS, samples, 0, 0.1, 0, 1024, 0), new ByteArrayInputStream(mlp.onnx("mlp")));
        Sampler build = new Sampler(server.pid());
        FisherProgress done;
        try {
          List<Samples> parts = new ArrayList<>();
          for (int from = 0; from < samples; from += 100) {
            parts.add(Batches.range(batch, from, Math.min(samples, from + 100)));
          }
          done = client.buildFisher(new FisherRequest("mlp", CurvatureKind.EMPIRICAL,
              InversionMethod.GRAM, 1024, 0, 0, 0, 0, samples), parts.iterator(), p -> {});
        } finally {
          build.stop();
        }
        Sampler grads = new Sampler(server.pid());
        AtomicLong calls = new AtomicLong();
        Map<String, AtomicLong> errors = new ConcurrentHashMap<>();
        try {
          runGradients(port, streams, seconds, Batches.range(batch, 0, 16), calls, errors);
        } finally {
          grads.stop();
        }
        long limits = ((long) heapMiB << 20) * 2; // -Xmx, and direct memory defaults to it
        System.out.printf("MemoryBench: sidecar at -Xmx%dm (direct memory limit = heap), %d cores;"
            + " model 784-%d-10 (%d parameters)%n", heapMiB,
            Runtime.getRuntime().availableProcessors(), hidden, mlp.parameterCount());
        System.out.println("sidecar's " + budget);
        System.out.printf("RSS idle with the demo: %.1f MiB (baseline)%n", mib(idle));
        System.out.printf("RSS peak during BuildFisher (%d samples, %d blocks, %d passes, %.1f s,"
            + " %.0f MiB of F^-1 stored): %.1f MiB = %.2fx idle, %.2f of heap + direct limits%n",
            samples, done.summary().blocks(), done.summary().passes(), done.summary().buildSeconds(),
            mib(done.summary().bytes()), mib(build.peak()), build.peak() / (double) idle,
            build.peak() / (double) limits);
        System.out.printf("RSS peak during %d concurrent Gradients streams (16 samples, full, %d s:"
            + " %d calls, errors %s): %.1f MiB = %.2fx idle, %.2f of heap + direct limits%n",
            streams, seconds, calls.get(), errors, mib(grads.peak()), grads.peak() / (double) idle,
            grads.peak() / (double) limits);
      }
    } finally {
      server.destroy();
      server.waitFor(30, TimeUnit.SECONDS);
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static void runGradients(int port, int streams, int seconds, Samples batch,
      AtomicLong calls, Map<String, AtomicLong> errors) throws Exception {
    List<LetheClient> clients = new ArrayList<>();
    for (int c = 0; c < 4; c++) {
      clients.add(new LetheClient("127.0.0.1:" + port));
    }
    try {
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < streams; t++) {
        LetheClient client = clients.get(t % clients.size());
        Thread th = new Thread(() -> {
          while (System.nanoTime() < end) {
            try {
              client.gradients("mlp", 0, batch, true);
              calls.incrementAndGet();
            } catch (RemoteException e) {
              errors.computeIfAbsent(e.code(), k -> new AtomicLong()).incrementAndGet();
            }
          }
        });
        th.start();
        threads.add(th);
      }
      for (Thread th : threads) {
        th.join();
      }
    } finally {
      for (LetheClient c : clients) {
        c.close();
      }
    }
  }

  static Process start(Path dir, Path log, int heapMiB) throws IOException {
    // The class path in an @argfile: ONNX Runtime crashes on command lines beyond ~4 KiB.
    Path argfile = dir.resolve("classpath.args");
    Files.writeString(argfile, "-cp \"" + System.getProperty("java.class.path") + "\"\n");
    List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx" + heapMiB + "m", "@" + argfile, "dev.lethe.cli.Main", "serve", "--listen",
        "127.0.0.1:0", "--data-dir", dir.resolve("data").toString());
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(log.toFile()).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    pb.environment().keySet().removeIf(k -> k.startsWith("LETHE_"));
    return pb.start();
  }

  static int awaitPort(Process p, Path log) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (System.nanoTime() < deadline && p.isAlive()) {
      String port = find(PORT, Files.exists(log) ? Files.readString(log) : "");
      if (port != null) {
        Matcher m = PORT.matcher(port);
        m.find();
        return Integer.parseInt(m.group(1));
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException("the sidecar did not start: " + Files.readString(log));
  }

  static String find(Pattern p, String text) {
    Matcher m = p.matcher(text);
    return m.find() ? m.group() : null;
  }

  /** The resident set of {@code pid} in bytes (VmRSS). */
  static long rss(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException("reading /proc/" + pid + "/status (Linux only)", e);
    }
    throw new IllegalStateException("no VmRSS in /proc/" + pid + "/status");
  }

  /** The largest RSS seen over {@code millis}. */
  private static long sample(long pid, long millis) throws InterruptedException {
    Sampler s = new Sampler(pid);
    Thread.sleep(millis);
    s.stop();
    return s.peak();
  }

  /** Samples RSS every 10 ms on its own thread until stopped. */
  static final class Sampler {
    private final AtomicLong peak = new AtomicLong();
    private volatile boolean running = true;
    private final Thread thread;

    Sampler(long pid) {
      peak.set(rss(pid));
      thread = new Thread(() -> {
        while (running) {
          peak.accumulateAndGet(rss(pid), Math::max);
          try {
            Thread.sleep(10);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "rss-sampler");
      thread.setDaemon(true);
      thread.start();
    }

    void stop() throws InterruptedException {
      running = false;
      thread.join();
    }

    long peak() {
      return peak.get();
    }
  }

  /** n random samples of the MLP's input with class labels and ids "s0".., for loads and tests. */
  public static Samples synthetic(Random random, int n, int features, int classes) {
    float[] x = new float[n * features];
    for (int i = 0; i < x.length; i++) {
      x[i] = random.nextFloat();
    }
    long[] y = new long[n];
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      y[i] = random.nextInt(classes);
      ids.add("s" + i);
    }
    return new Samples(ids, Map.of(Mlp.INPUT, DenseTensor.ofFloats(new long[] {n, features}, x)),
        DenseTensor.ofLongs(new long[] {n}, y));
  }

  static double mib(long bytes) {
    return bytes / 1048576.0;
  }
}
