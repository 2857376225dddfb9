package dev.lethe.store;

import dev.lethe.fisher.FisherStore;
import dev.lethe.storage.Family;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.records.ModelRecord;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The start-up sweep: deletes, in one synced write, every stored Fisher (complete, or a killed
 * build's blocks without a header) and every weight set that no kept version of a registered
 * model references. Such debris is left by a crash between writing and committing (a downdate,
 * a build) and may hold erased samples' gradient terms. Runs before serving: a build in flight
 * would look like debris. Stateless.
 */
public final class OrphanSweep {
  private OrphanSweep() {}

  /** What a sweep deleted. */
  public record Swept(int fishers, int weightSets) {}

  static Swept run(LetheDb db, Collection<ModelRecord> records) {
    Map<String, Set<String>> fishers = new HashMap<>();
    Map<String, Set<Long>> versions = new HashMap<>();
    for (ModelRecord r : records) {
      Set<String> f = new HashSet<>();
      Set<Long> v = new HashSet<>();
      r.getVersionsList().forEach(x -> {
        f.add(x.getFisherId());
        v.add(x.getVersion());
      });
      fishers.put(r.getName(), f);
      versions.put(r.getName(), v);
    }
    List<String[]> deadFishers = new ArrayList<>();
    FisherStore.storedIds(db).forEach((model, ids) -> ids.forEach(id -> {
      if (!fishers.getOrDefault(model, Set.of()).contains(id)) {
        deadFishers.add(new String[] {model, id});
      }
    }));
    // Weight keys: name 0x00 version(8) part(4).
    List<byte[]> deadWeights = new ArrayList<>();
    db.scanGroups(Family.WEIGHTS, key -> {
      int zero = 0;
      while (key[zero] != 0) {
        zero++;
      }
      return Arrays.copyOf(key, zero + 1 + Long.BYTES);
    }, group -> {
      String model = new String(group, 0, group.length - 1 - Long.BYTES, StandardCharsets.UTF_8);
      long version = ByteBuffer.wrap(group, group.length - Long.BYTES, Long.BYTES).getLong();
      if (!versions.getOrDefault(model, Set.of()).contains(version)) {
        deadWeights.add(group);
      }
    });
    if (!deadFishers.isEmpty() || !deadWeights.isEmpty()) {
      db.write(b -> {
        deadFishers.forEach(f -> FisherStore.deleteIn(b, f[0], f[1]));
        deadWeights.forEach(w -> b.deletePrefix(Family.WEIGHTS, w));
      });
    }
    return new Swept(deadFishers.size(), deadWeights.size());
  }
}
