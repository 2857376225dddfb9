package dev.lethe.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.ByteBuffer;

/** Small helpers shared by the Fisher benchmarks. */
final class BenchSupport {
  private BenchSupport() {}

  /** Sum of the peak usage of the heap pools since the JVM started (or the last reset). */
  static long peakHeapBytes() {
    long peak = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        peak += pool.getPeakUsage().getUsed();
      }
    }
    return peak;
  }

  static void resetPeaks() {
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      pool.resetPeakUsage();
    }
  }

  /**
   * Memory-copy bandwidth in GB/s (bytes copied per second; each copy reads and writes them):
   * {@code threads} threads each copying its own pair of direct buffers of {@code bytes} bytes,
   * best of a few rounds.
   */
  static double copyBandwidth(int threads, int bytes) throws InterruptedException {
    ByteBuffer[] src = new ByteBuffer[threads];
    ByteBuffer[] dst = new ByteBuffer[threads];
    for (int t = 0; t < threads; t++) {
      src[t] = ByteBuffer.allocateDirect(bytes);
      dst[t] = ByteBuffer.allocateDirect(bytes);
      for (int i = 0; i < bytes; i += 4096) {
        src[t].put(i, (byte) i);
        dst[t].put(i, (byte) 0);
      }
    }
    return bestOfRounds(threads, bytes, id -> {
      for (int rep = 0; rep < 4; rep++) {
        dst[id].clear();
        dst[id].put(src[id].duplicate().clear());
      }
    });
  }

  /**
   * GB/s of {@code threads} threads each running {@code work} on its own {@code bytes} four
   * times: the best of five rounds.
   */
  private static double bestOfRounds(int threads, int bytes, java.util.function.IntConsumer work)
      throws InterruptedException {
    double best = 0;
    for (int round = 0; round < 5; round++) {
      Thread[] workers = new Thread[threads];
      long start = System.nanoTime();
      for (int t = 0; t < threads; t++) {
        int id = t;
        workers[t] = new Thread(() -> work.accept(id));
        workers[t].start();
      }
      for (Thread w : workers) {
        w.join();
      }
      double s = (System.nanoTime() - start) / 1e9;
      best = Math.max(best, 4.0 * threads * bytes / s / 1e9);
    }
    return best;
  }

  /** Argument {@code i} as an int, or {@code fallback} when there are fewer arguments. */
  static int intArg(String[] args, int i, int fallback) {
    return args.length > i ? Integer.parseInt(args[i]) : fallback;
  }

  /**
   * Read bandwidth in GB/s: {@code threads} threads each summing its own float[] of
   * {@code bytes} bytes (four sums, so the loop is bound by memory, not by the add latency),
   * best of a few rounds.
   */
  static double readBandwidth(int threads, int bytes) throws InterruptedException {
    float[][] data = new float[threads][bytes / Float.BYTES];
    for (float[] d : data) {
      java.util.Arrays.fill(d, 1f);
    }
    double[] sink = new double[threads];
    double best = bestOfRounds(threads, bytes, id -> {
      float[] d = data[id];
      for (int rep = 0; rep < 4; rep++) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int i = 0; i + 3 < d.length; i += 4) {
          s0 += d[i];
          s1 += d[i + 1];
          s2 += d[i + 2];
          s3 += d[i + 3];
        }
        sink[id] += s0 + s1 + s2 + s3;
      }
    });
    if (sink[0] < 0) {
      System.out.print(""); // keeps the sums live
    }
    return best;
  }
}
