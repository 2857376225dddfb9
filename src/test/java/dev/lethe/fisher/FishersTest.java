package dev.lethe.fisher;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lethe.storage.LetheDb;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One open Fisher per model: moving to another id closes the previous one. */
class FishersTest {
  @TempDir Path dir;

  /** Stores F⁻¹ = scale·I over P = 4 entries in one block. */
  private static void put(FisherStore store, String model, String id, double scale) {
    BlockLayout layout = BlockLayout.uniform(4, 4);
    try (FisherStore.Writer w = store.create(model, id,
        new FisherHeader(layout, 1.0, 10, 1, CurvatureKind.EMPIRICAL, InversionMethod.GRAM, false, 1, null))) {
      double[] inverse = new double[16];
      for (int i = 0; i < 4; i++) {
        inverse[i * 4 + i] = scale;
      }
      w.accept(0, inverse);
      w.commit();
    }
  }

  @Test
  void keepsOneOpenFisherPerModel() {
    try (LetheDb db = LetheDb.open(dir)) {
      FisherStore store = new FisherStore(db);
      put(store, "m", "f1", 2);
      put(store, "m", "f2", 3);
      put(store, "n", "g1", 5);
      try (Fishers fishers = new Fishers(store, 1, 1L << 30, dir)) {
        double[] out = new double[4];
        FisherSolver first = fishers.solver("m", "f1");
        first.apply(new double[] {1, 1, 1, 1}, out);
        assertArrayEquals(new double[] {2, 2, 2, 2}, out);
        fishers.solver("n", "g1").apply(new double[] {1, 0, 0, 0}, out);
        assertEquals(5, out[0]);
        assertEquals(2, fishers.openCount());
        fishers.solver("m", "f2").apply(new double[] {1, 1, 1, 1}, out);
        assertArrayEquals(new double[] {3, 3, 3, 3}, out);
        assertEquals(2, fishers.openCount(), "f1 was replaced, not kept");
        assertThrows(IllegalStateException.class, () -> first.apply(new double[4], new double[4]),
            "the replaced Fisher is closed");
      }
    }
  }
}
