package dev.lethe.fisher;

import dev.lethe.core.DaemonThreads;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Builds the block-diagonal inverse Fisher of a gradient source: plans groups of blocks whose
 * accumulators fit the memory budget, runs one pass over the gradients per group
 * ({@link FisherAccumulator}), and hands every inverse block to a {@link BlockSink} as soon as it
 * is computed, so the heap never holds more than one group.
 *
 * <p>Heap use: the budget (accumulators), plus a batch buffer of batchRows × (group columns)
 * floats, plus per thread a transposed batch (8·b·batchRows bytes) and, while inverting, about
 * three b × b double matrices.
 */
public final class FisherBuilder {
  private FisherBuilder() {}

  /** Progress of a build: rows read in the current pass, blocks finished so far, in all. */
  @FunctionalInterface
  public interface Listener {
    void progress(int pass, long rowsInPass, int blocksDone, int blocksTotal);
  }

  /** What a build did. */
  public record Summary(int passes, int blocks, long rows, double seconds) {}

  /**
   * Groups of consecutive blocks, each [from, to), whose accumulators fit {@code budget} bytes.
   *
   * @throws dev.lethe.core.LetheException INVALID_ARGUMENT (memory_budget) if one block alone
   *     does not fit
   */
  public static List<int[]> plan(BlockLayout layout, InversionMethod method, long budget) {
    List<int[]> groups = new ArrayList<>();
    int from = 0;
    long used = 0;
    for (int b = 0; b < layout.blockCount(); b++) {
      long bytes = FisherAccumulator.accumulatorBytes(method, layout.size(b));
      if (bytes > budget) {
        throw dev.lethe.core.LetheException.invalid(
            "memory_budget",
            budget + " bytes cannot hold one block of " + layout.size(b) + " entries (" + bytes + " bytes)");
      }
      if (used + bytes > budget) {
        groups.add(new int[] {from, b});
        from = b;
        used = 0;
      }
      used += bytes;
    }
    if (from < layout.blockCount()) {
      groups.add(new int[] {from, layout.blockCount()});
    }
    return groups;
  }

  /**
   * Builds every block of {@code layout} from {@code source} (n = source.rows()) and passes each
   * inverse to {@code sink}. The source is opened once per group. Blocks are computed with
   * {@code options.threads()} threads, created and shut down here.
   *
   * @throws IllegalArgumentException if the source's columns differ from the layout's P
   * @throws UncheckedIOException if the source fails
   */
  public static Summary build(
      BlockLayout layout, GradientSource source, BuildOptions options, BlockSink sink, Listener listener) {
    if (source.columns() != layout.parameterCount()) {
      throw new IllegalArgumentException(
          "gradients have " + source.columns() + " columns, the layout " + layout.parameterCount());
    }
    long start = System.nanoTime();
    List<int[]> groups = plan(layout, options.method(), options.memoryBudgetBytes());
    ExecutorService pool = options.threads() > 1 ? DaemonThreads.pool("fisher-build", options.threads()) : null;
    AtomicInteger done = new AtomicInteger();
    Listener report = listener == null ? (p, r, d, t) -> {} : listener;
    try {
      for (int g = 0; g < groups.size(); g++) {
        int[] group = groups.get(g);
        FisherAccumulator acc =
            new FisherAccumulator(layout, group[0], group[1], source.rows(), options, pool);
        int width = acc.toColumn() - acc.fromColumn();
        int batch = options.batchRows();
        float[] rows = new float[batch * width];
        try (GradientSource.Cursor cursor = source.open(acc.fromColumn(), acc.toColumn())) {
          for (int k; (k = cursor.next(rows, batch)) > 0; ) {
            acc.accept(rows, k);
            report.progress(g, acc.rowsSeen(), done.get(), layout.blockCount());
          }
        } catch (IOException e) {
          throw new UncheckedIOException("reading gradients (pass " + (g + 1) + ")", e);
        }
        rows = null;
        int pass = g;
        acc.finish((b, inverse) -> {
          sink.accept(b, inverse);
          report.progress(pass, source.rows(), done.incrementAndGet(), layout.blockCount());
        });
      }
    } finally {
      if (pool != null) {
        pool.shutdownNow();
      }
    }
    return new Summary(groups.size(), layout.blockCount(), source.rows(), (System.nanoTime() - start) / 1e9);
  }

}
