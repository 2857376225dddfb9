package dev.lethe.bench;

import dev.lethe.client.LetheClient;
import dev.lethe.core.Batches;
import dev.lethe.core.Samples;
import dev.lethe.data.BatchFormat;
import dev.lethe.data.Dataset;
import dev.lethe.demo.DemoModel;
import dev.lethe.demo.DigitsDemo;
import dev.lethe.erase.EraseCommand;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.InversionMethod;
import dev.lethe.server.LetheServer;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * Load on loopback, bounded in time: {@code streams} client threads (over 4 channels) alternate
 * GetModel (the whole file, sha256 checked) and Evaluate (32 digits) against the demo model
 * while one more thread erases one sample every 50 ms; prints per-operation p50/p99 latency,
 * throughput and errors. Usage: {@code lethe bench load [streams=64] [seconds=20]}.
 */
public final class LoadBench {
  private LoadBench() {}

  public static void main(String[] args) throws Exception {
    int streams = BenchSupport.intArg(args, 0, 64);
    int seconds = BenchSupport.intArg(args, 1, 20);
    Path dir = Files.createTempDirectory("lethe-load");
    DemoModel demo = DigitsDemo.train();
    ServerConfig config = new ServerConfig("127.0.0.1:0", dir.resolve("data"),
        new StoreConfig(10, 1 << 30), 64 << 20, false, 30);
    LetheServer server = LetheServer.netty(config, s -> s.put(demo.spec(), demo.onnx())).start();
    String target = "127.0.0.1:" + server.port();
    Dataset digits = DigitsDemo.trainingData();
    Samples all = digits.batch(0, digits.size(), BatchFormat.of(DigitsDemo.INPUT).withClassIndices());
    List<LetheClient> clients = new ArrayList<>();
    try {
      for (int c = 0; c < 4; c++) {
        clients.add(new LetheClient(target));
      }
      clients.get(0).buildFisher(new FisherRequest("digits", CurvatureKind.EMPIRICAL, InversionMethod.GRAM,
          0, 0, 0, 0, 0, all.size()), List.of(all).iterator(), p -> {});
      long end = System.nanoTime() + seconds * 1_000_000_000L;
      List<Long> getModel = Collections.synchronizedList(new ArrayList<>());
      List<Long> evaluate = Collections.synchronizedList(new ArrayList<>());
      List<Long> erase = Collections.synchronizedList(new ArrayList<>());
      AtomicLong errors = new AtomicLong();
      List<String> firstErrors = Collections.synchronizedList(new ArrayList<>());
      CountDownLatch done = new CountDownLatch(streams + 1);
      for (int t = 0; t < streams; t++) {
        LetheClient client = clients.get(t % clients.size());
        int offset = (t * 32) % (all.size() - 32);
        new Thread(() -> {
          try {
            Samples batch = Batches.range(all, offset, offset + 32);
            for (int i = 0; System.nanoTime() < end; i++) {
              long t0 = System.nanoTime();
              try {
                if (i % 2 == 0) {
                  client.getModel("digits", 0, OutputStream.nullOutputStream());
                  getModel.add(System.nanoTime() - t0);
                } else {
                  client.evaluate("digits", 0, batch);
                  evaluate.add(System.nanoTime() - t0);
                }
              } catch (Exception e) {
                errors.incrementAndGet();
                if (firstErrors.size() < 5) {
                  firstErrors.add(e.toString());
                }
              }
            }
          } finally {
            done.countDown();
          }
        }, "load-" + t).start();
      }
      new Thread(() -> {
        try {
          for (int row = 0; System.nanoTime() < end && row < all.size() - 1; row++) {
            long t0 = System.nanoTime();
            try {
              clients.get(0).erase(new EraseCommand("digits", "", Batches.range(all, row, row + 1),
                  false, 0, false));
              erase.add(System.nanoTime() - t0);
            } catch (Exception e) {
              errors.incrementAndGet();
              if (firstErrors.size() < 5) {
                firstErrors.add(e.toString());
              }
            }
            Thread.sleep(50);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } finally {
          done.countDown();
        }
      }, "load-eraser").start();
      done.await();
      System.out.printf("Load: %d concurrent streams (GetModel and Evaluate alternating) + 1 eraser,"
          + " %d s, loopback, %d cores%n", streams, seconds, Runtime.getRuntime().availableProcessors());
      report("GetModel (2.9 KB file)", getModel, seconds);
      report("Evaluate (32 samples)", evaluate, seconds);
      report("Erase (1 sample)", erase, seconds);
      System.out.printf("errors: %d %s%n", errors.get(), firstErrors);
    } finally {
      for (LetheClient c : clients) {
        c.close();
      }
      server.stop();
      try (Stream<Path> files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static void report(String what, List<Long> nanos, int seconds) {
    long[] v;
    synchronized (nanos) {
      v = nanos.stream().mapToLong(Long::longValue).toArray();
    }
    Arrays.sort(v);
    if (v.length == 0) {
      System.out.printf("%-24s no calls%n", what);
      return;
    }
    System.out.printf("%-24s %7d calls  %8.1f/s  p50 %7.2f ms  p99 %7.2f ms%n", what, v.length,
        v.length / (double) seconds, v[v.length / 2] / 1e6, v[(int) Math.min(v.length - 1, v.length * 0.99)] / 1e6);
  }
}
