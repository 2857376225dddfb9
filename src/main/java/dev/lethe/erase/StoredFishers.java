package dev.lethe.erase;

import dev.lethe.core.LetheException;
import dev.lethe.fisher.FisherDowndate;
import dev.lethe.fisher.FisherHeader;
import dev.lethe.fisher.FisherInverse;
import dev.lethe.fisher.FisherKind;
import dev.lethe.fisher.FisherStore;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@link FisherProvider} over the RocksDB {@link FisherStore}: keeps one open
 * {@link FisherInverse} per (model, Fisher id) and closes them in {@link #close()}, before the
 * database closes. Thread-safe.
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
    FisherInverse inverse = open.computeIfAbsent(model + "\0" + fisherId,
        k -> store.open(model, fisherId, threads, true));
    return inverse::apply;
  }

  @Override
  public String downdate(String model, String fisherId, float[] gradients, int k, long n) {
    FisherHeader header = store.header(model, fisherId)
        .orElseThrow(() -> LetheException.precondition("model " + model + " has no Fisher " + fisherId));
    if (!header.kind().equals(FisherKind.EMPIRICAL.name())) {
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
