package dev.lethe.fisher;

import dev.lethe.core.LetheException;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@link FisherProvider} over the RocksDB {@link FisherStore}: keeps the most recently used
 * {@link FisherInverse} of each model open (each owns a small worker pool), closes the previous
 * one when a model moves to another Fisher (a downdate, a rebuild, a rollback), and closes all in
 * {@link #close()}, before the database closes. Erases on one model are serialised by the store,
 * so a model's Fisher is never closed while one of its erases applies it. Thread-safe.
 */
public final class StoredFishers implements FisherProvider, AutoCloseable {
  private final FisherStore store;
  private final int threads;
  private final ConcurrentHashMap<String, FisherInverse> open = new ConcurrentHashMap<>();

  public StoredFishers(FisherStore store, int threads) {
    this.store = store;
    this.threads = threads;
  }

  public FisherStore store() {
    return store;
  }

  @Override
  public FisherSolver solver(String model, String fisherId) {
    FisherInverse inverse = open.compute(model, (k, current) -> {
      if (current != null && current.fisherId().equals(fisherId)) {
        return current;
      }
      if (current != null) {
        current.close();
      }
      return store.open(model, fisherId, threads, true);
    });
    return inverse::apply;
  }

  /** Fishers held open (one per model at most). */
  int openCount() {
    return open.size();
  }

  @Override
  public String downdate(String model, String fisherId, float[] gradients, int k, long n) {
    FisherHeader header = store.header(model, fisherId)
        .orElseThrow(() -> LetheException.precondition("model " + model + " has no Fisher " + fisherId));
    if (!header.kind().equals(CurvatureKind.EMPIRICAL.name())) {
      throw LetheException.precondition("downdate_fisher: Fisher " + fisherId + " is "
          + header.kind() + "; only an EMPIRICAL Fisher is a sum of the samples' own gradients");
    }
    byte[] tag = new byte[4];
    new Random().nextBytes(tag);
    String to = fisherId.replaceAll("-d[0-9a-f]{8}$", "") + "-d" + HexFormat.of().formatHex(tag);
    FisherDowndate.downdate(store, model, fisherId, to, gradients, k, header.modelVersion(), threads);
    return to;
  }

  /** Closes every open Fisher. Idempotent. */
  @Override
  public void close() {
    open.values().forEach(FisherInverse::close);
    open.clear();
  }
}
