package dev.lethe.fisher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.core.LetheException;
import dev.lethe.storage.LetheDb;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FisherDowndateTest {
  /** Downdate vs a rebuild without the samples, both stored as float32: relative Frobenius. */
  static final double DOWNDATE = 1e-4;

  @TempDir Path dir;

  final int p = 200;
  final int n = 300;
  final BlockLayout layout = BlockLayout.uniform(p, 64);
  final float[] g = Reference.gradients(new Random(31), n, p);

  FisherHeader build(FisherStore store, String id, float[] rows, int count, double lambda) {
    return new ArrayRows(rows, count, p).buildAs(store, id, layout, BuildOptions.defaults(lambda), dir);
  }

  @Test
  void downdateEqualsARebuildWithoutTheSamples() {
    // erase the rows 3, 50, 51, 120, 299 (k = 5); λ large and small
    int[] erased = {3, 50, 51, 120, 299};
    for (double lambda : new double[] {0.5, 1e-3}) {
      try (LetheDb db = LetheDb.open(dir.resolve("l" + lambda))) {
        FisherStore store = new FisherStore(db);
        build(store, "full", g, n, lambda);
        int k = erased.length;
        float[] removed = new float[k * p];
        float[] kept = new float[(n - k) * p];
        for (int r = 0, e = 0, kk = 0; r < n; r++) {
          if (e < k && erased[e] == r) {
            System.arraycopy(g, r * p, removed, e++ * p, p);
          } else {
            System.arraycopy(g, r * p, kept, kk++ * p, p);
          }
        }
        FisherHeader down = FisherDowndate.downdate(store, "m", "full", "down", ArrayRows.split(removed, k, p), 2, ArrayRows.POOL, 2);
        assertEquals(n - k, down.samples());
        assertEquals(InversionMethod.GRAM, down.method());
        assertTrue(down.downdated());
        build(store, "rebuilt", kept, n - k, lambda);
        try (FisherInverse a = store.open("m", "down", ArrayRows.POOL, 1, true);
            FisherInverse b = store.open("m", "rebuilt", ArrayRows.POOL, 1, true)) {
          for (int blk = 0; blk < layout.blockCount(); blk++) {
            int s = layout.size(blk);
            float[] x = new float[s * s];
            float[] y = new float[s * s];
            a.readBlock(blk, x);
            b.readBlock(blk, y);
            double err = Reference.relativeError(toDouble(x), toDouble(y));
            assertTrue(err <= DOWNDATE, "λ " + lambda + " block " + blk + ": " + err);
            // and the rebuild itself is the inverse of the dense F over D∖S
            DMatrixRMaj f = Reference.block(kept, p, Reference.range(n - k), layout, blk, lambda);
            DMatrixRMaj inv = new DMatrixRMaj(s, s);
            assertTrue(CommonOps_DDRM.invert(f, inv));
            assertTrue(Reference.relativeError(toDouble(x), inv.data) <= DOWNDATE, "vs dense, block " + blk);
          }
        }
      }
    }
  }

  @Test
  void refusesMiniBatchFishersSameIdAndTooManySamples() {
    try (LetheDb db = LetheDb.open(dir)) {
      FisherStore store = new FisherStore(db);
      build(store, "full", g, n, 0.1);
      float[] one = Arrays.copyOf(g, p);
      assertEquals(
          LetheException.Kind.FAILED_PRECONDITION,
          assertThrows(LetheException.class, () -> FisherDowndate.downdate(store, "m", "full", "full", ArrayRows.split(one, 1, p), 1, null, 1)).kind());
      assertEquals(
          LetheException.Kind.INVALID_ARGUMENT,
          assertThrows(LetheException.class, () -> FisherDowndate.downdate(store, "m", "full", "x", new float[][] {one, Arrays.copyOf(one, p - 1)}, 1, null, 1)).kind());
      new ArrayRows(g, n, p).buildAs(store, "mini", layout, BuildOptions.defaults(0.1).withMiniBatch(4), dir);
      LetheException e =
          assertThrows(LetheException.class, () -> FisherDowndate.downdate(store, "m", "mini", "x", ArrayRows.split(one, 1, p), 1, null, 1));
      assertEquals(LetheException.Kind.FAILED_PRECONDITION, e.kind());
      assertTrue(store.header("m", "x").isEmpty(), "nothing written on refusal");
    }
  }

  static double[] toDouble(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }
}
