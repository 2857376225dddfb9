package dev.lethe.cli;

import java.io.PrintWriter;

/**
 * A one-line progress display for long builds: samples sent with rate and ETA, then blocks
 * inverted. Redraws at most every 200 ms. Not thread-safe (call from one thread at a time).
 */
final class ProgressBar {
  private static final int WIDTH = 30;
  private final PrintWriter err;
  private final long total;
  private final long start = System.nanoTime();
  private long lastDraw;

  ProgressBar(PrintWriter err, long total) {
    this.err = err;
    this.total = total;
  }

  synchronized void update(long samples, int blocksDone, int blocksTotal) {
    long now = System.nanoTime();
    boolean last = blocksTotal > 0 && blocksDone == blocksTotal;
    if (now - lastDraw < 200_000_000L && !last) {
      return;
    }
    lastDraw = now;
    double seconds = (now - start) / 1e9;
    double rate = samples / Math.max(seconds, 1e-9);
    StringBuilder line = new StringBuilder("\r");
    if (samples < total || blocksDone == 0) {
      int filled = (int) (WIDTH * samples / Math.max(1, total));
      line.append('[').append("#".repeat(filled)).append(".".repeat(WIDTH - filled)).append("] ")
          .append(String.format("%d/%d samples  %.0f/s  ETA %s", samples, total, rate,
              samples == 0 ? "?" : duration((total - samples) / rate)));
    } else {
      int filled = (int) (WIDTH * (long) blocksDone / Math.max(1, blocksTotal));
      line.append('[').append("=".repeat(filled)).append(".".repeat(WIDTH - filled)).append("] ")
          .append(String.format("inverting blocks %d/%d  %s elapsed", blocksDone, blocksTotal,
              duration(seconds)));
    }
    err.print(line.append("   "));
    err.flush();
  }

  void finish() {
    err.println();
    err.flush();
  }

  static String duration(double seconds) {
    long s = Math.round(seconds);
    return s >= 3600 ? String.format("%dh%02dm", s / 3600, s / 60 % 60)
        : s >= 60 ? String.format("%dm%02ds", s / 60, s % 60) : s + "s";
  }
}
