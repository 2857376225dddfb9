package dev.lethe.fisher;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.core.LetheException;
import dev.lethe.storage.Family;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.StorageException;
import java.nio.file.Path;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FisherStoreTest {
  /** apply (float32 blocks) against a dense double solve: relative 2-norm error. */
  static final double APPLY = 1e-5;

  @TempDir Path dir;

  final int p = 300;
  final int n = 400;
  final double lambda = 0.1;
  final BlockLayout layout = BlockLayout.uniform(p, 64);
  final float[] g = Reference.gradients(new Random(21), n, p);

  FisherHeader build(FisherStore store, String id) {
    return new ArrayRows(g, n, p).atVersion(7).buildAs(store, id, layout, BuildOptions.defaults(lambda), dir);
  }

  @Test
  void applyMatchesADenseSolveAndSurvivesReopen() {
    double[] v = new double[p];
    Random r = new Random(5);
    for (int i = 0; i < p; i++) {
      v[i] = r.nextGaussian();
    }
    DMatrixRMaj f = Reference.blockDiagonal(g, p, Reference.range(n), layout, lambda);
    DMatrixRMaj x = new DMatrixRMaj(p, 1);
    DMatrixRMaj rhs = new DMatrixRMaj(p, 1);
    for (int i = 0; i < p; i++) {
      rhs.data[i] = v[i];
    }
    assertTrue(CommonOps_DDRM.solve(f, rhs, x));
    FisherHeader written;
    try (LetheDb db = LetheDb.open(dir)) {
      written = build(new FisherStore(db), "f1");
    }
    try (LetheDb db = LetheDb.open(dir);
        FisherInverse inv = new FisherStore(db).open("m", "f1", ArrayRows.POOL, 3, true)) {
      assertEquals(written, inv.header());
      assertEquals(7, inv.header().modelVersion());
      assertEquals(layout, inv.layout());
      double[] out = new double[p];
      inv.apply(v, out);
      double num = 0;
      double den = 0;
      for (int i = 0; i < p; i++) {
        num += (out[i] - x.data[i]) * (out[i] - x.data[i]);
        den += x.data[i] * x.data[i];
      }
      assertTrue(Math.sqrt(num / den) <= APPLY, "relative error " + Math.sqrt(num / den));
    }
  }

  @Test
  void missingOrCorruptBlocksAreReportedNeverUsed() {
    try (LetheDb db = LetheDb.open(dir)) {
      FisherStore store = new FisherStore(db);
      build(store, "f1");
      byte[] prefix = FisherStore.prefix("m", "f1");
      double[] v = new double[p];
      double[] out = new double[p];
      // checksum: same size, one byte changed
      byte[] key = FisherStore.blockKey(prefix, 2);
      byte[] value = db.get(Family.FISHER, key);
      value[100] ^= 1;
      db.write(b -> b.put(Family.FISHER, key, value));
      assertFailure(store, v, out, "Fisher f1 of model m: block 2 is corrupt: checksum mismatch");
      // wrong size
      db.write(b -> b.put(Family.FISHER, key, new byte[12]));
      assertFailure(store, v, out, "Fisher f1 of model m: block 2 is corrupt: 12 bytes, expected 8320");
      // missing
      db.write(b -> b.delete(Family.FISHER, FisherStore.blockKey(prefix, 4)));
      db.write(b -> b.put(Family.FISHER, key, value));
      value[100] ^= 1;
      db.write(b -> b.put(Family.FISHER, key, value));
      assertFailure(store, v, out, "Fisher f1 of model m: block 4 is missing");
    }
  }

  private static void assertFailure(FisherStore store, double[] v, double[] out, String message) {
    try (FisherInverse inv = store.open("m", "f1", ArrayRows.POOL, 2, true)) {
      StorageException e = assertThrows(StorageException.class, () -> inv.apply(v, out));
      assertEquals(message, e.getMessage());
    }
  }

  @Test
  void packedAndDenseStorageApplyAndReadTheSameInverse() {
    // Lethe writes the upper triangle (half the bytes); Fishers written dense before that are
    // still read. Both hold the same float32 values, so applies agree to the last bit of the
    // double accumulation order, and blocks read back identically.
    try (LetheDb db = LetheDb.open(dir)) {
      FisherStore store = new FisherStore(db);
      FisherHeader packed = build(store, "f1");
      assertTrue(packed.packed());
      FisherHeader template = new FisherHeader(layout, lambda, n, 1, CurvatureKind.EMPIRICAL,
          InversionMethod.GRAM, false, 7, null, FisherHeader.DENSE_F32_LE, null, false);
      try (FisherInverse source = store.open("m", "f1", null, 1, true);
          FisherStore.Writer w = store.create("m", "dense", template)) {
        for (int b = 0; b < layout.blockCount(); b++) {
          int size = layout.size(b);
          float[] block = new float[size * size];
          source.readBlock(b, block);
          double[] inverse = new double[block.length];
          for (int i = 0; i < block.length; i++) {
            inverse[i] = block[i];
          }
          w.accept(b, inverse);
        }
        w.commit();
      }
      FisherHeader dense = store.header("m", "dense").orElseThrow();
      assertFalse(dense.packed());
      assertEquals(2 * packed.totalStoredBytes() - (long) p * Float.BYTES, dense.totalStoredBytes(),
          "packed keeps b(b+1)/2 of b^2 entries per block");
      double[] v = new double[p];
      Random r = new Random(8);
      for (int i = 0; i < p; i++) {
        v[i] = r.nextGaussian();
      }
      double[] a = new double[p];
      double[] b = new double[p];
      try (FisherInverse x = store.open("m", "f1", ArrayRows.POOL, 2, true);
          FisherInverse y = store.open("m", "dense", ArrayRows.POOL, 2, true)) {
        x.apply(v, a);
        y.apply(v, b);
        for (int blk = 0; blk < layout.blockCount(); blk++) {
          int size = layout.size(blk);
          float[] fx = new float[size * size];
          float[] fy = new float[size * size];
          x.readBlock(blk, fx);
          y.readBlock(blk, fy);
          assertArrayEquals(fy, fx, "block " + blk);
        }
      }
      for (int i = 0; i < p; i++) {
        assertEquals(b[i], a[i], 1e-9 * Math.abs(b[i]) + 1e-12, "entry " + i);
      }
    }
  }

  @Test
  void halfWrittenFisherIsInvisibleAndDeleteRemovesEveryKey() {
    try (LetheDb db = LetheDb.open(dir)) {
      FisherStore store = new FisherStore(db);
      FisherHeader template = new FisherHeader(layout, lambda, n, 1, CurvatureKind.EMPIRICAL, InversionMethod.GRAM, false, 7, null);
      FisherStore.Writer w = store.create("m", "half", template);
      w.accept(0, new double[64 * 64]);
      assertTrue(store.header("m", "half").isEmpty(), "no header before commit");
      LetheException e = assertThrows(LetheException.class, () -> store.open("m", "half", ArrayRows.POOL, 1, true));
      assertEquals(LetheException.Kind.FAILED_PRECONDITION, e.kind());
      assertThrows(IllegalStateException.class, w::commit);
      w.close();
      assertEquals(0, countKeys(db, "m"));

      build(store, "f1");
      build(store, "f2");
      int perFisher = 2 * layout.blockCount() + 1; // F⁻¹ and F per block, and the header
      assertEquals(2 * perFisher, countKeys(db, "m"));
      store.delete("m", "f1");
      assertEquals(perFisher, countKeys(db, "m"));
      assertFalse(store.header("m", "f1").isPresent());
      assertTrue(store.header("m", "f2").isPresent());
    }
  }

  @Test
  void rebuildingAnIdReplacesItAndHeaderRoundTrips() {
    try (LetheDb db = LetheDb.open(dir)) {
      FisherStore store = new FisherStore(db);
      FisherHeader first = build(store, "f1");
      FisherHeader second = build(store, "f1");
      assertArrayEquals(first.blockCrc(), second.blockCrc(), "same input, same bytes");
      assertEquals(second, FisherHeader.decode(second.encode()));
    }
  }

  private static int countKeys(LetheDb db, String model) {
    int[] count = {0};
    db.scan(Family.FISHER, dev.lethe.storage.Keys.modelPrefix(model), (k, v) -> count[0]++);
    return count[0];
  }
}
