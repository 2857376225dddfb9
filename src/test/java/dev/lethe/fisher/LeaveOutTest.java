package dev.lethe.fisher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.core.LetheException;
import dev.lethe.storage.LetheDb;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The leave-S-out solve against a dense, independent computation in double (EJML): F₋S = λI +
 * 1/((n−k)·r) Σ_{D∖S} ρρᵀ built from the remaining rows directly, x = F₋S⁻¹g by a dense inverse;
 * for the Woodbury and the refactor path, one and several rows per sample, rows that are zero on
 * a block, a Fisher stored without F, a small memory budget (several passes), downdates
 * (sequential, and after the database is reopened), and the not-positive-definite guard.
 */
class LeaveOutTest {
  /** Stored float32 blocks against a double reference, relative 2-norm. */
  static final double RELATIVE = 1e-4;

  @TempDir Path dir;

  final int p = 150;
  final int n = 240;
  final BlockLayout layout = BlockLayout.uniform(p, 64); // 64, 64, 22

  /** n samples × r rows, with the rows of some samples zero on block 1 (skipped there). */
  float[] rows(int r, long seed) {
    float[] g = Reference.gradients(new Random(seed), n * r, p);
    for (int s = 0; s < n; s += 7) {
      for (int j = 0; j < r; j++) {
        Arrays.fill(g, (s * r + j) * p + 64, (s * r + j) * p + 128, 0f);
      }
    }
    return g;
  }

  FisherHeader build(FisherStore store, String id, float[] g, int samples, int r, double lambda,
      InversionMethod method) {
    BuildOptions options = BuildOptions.defaults(lambda);
    if (method == InversionMethod.SHERMAN_MORRISON) {
      options = options.withMethod(method);
    }
    return new ArrayRows(g, samples, p, r).buildAs(store, id, layout, options, dir);
  }

  /** The rows of the samples {@code which}, [|which|·r, p]. */
  static float[] select(float[] g, int r, int p, int[] which) {
    float[] out = new float[which.length * r * p];
    for (int i = 0; i < which.length; i++) {
      System.arraycopy(g, which[i] * r * p, out, i * r * p, r * p);
    }
    return out;
  }

  static int[] without(int n, int[] erased) {
    return IntStream.range(0, n).filter(i -> Arrays.stream(erased).noneMatch(e -> e == i)).toArray();
  }

  /** x = F₋S⁻¹ g with F₋S dense per block from the kept rows (r per sample, n_kept samples). */
  double[] dense(float[] kept, int keptSamples, int r, double lambda, double[] g) {
    int rows = keptSamples * r;
    double[] x = new double[p];
    for (int b = 0; b < layout.blockCount(); b++) {
      // Reference.block divides by the number of rows it is given: rows = keptSamples · r
      DMatrixRMaj f = Reference.block(kept, p, Reference.range(rows), layout, b, lambda);
      DMatrixRMaj inv = new DMatrixRMaj(f.numRows, f.numCols);
      assertTrue(CommonOps_DDRM.invert(f, inv));
      DMatrixRMaj gb = new DMatrixRMaj(f.numRows, 1, true, Arrays.copyOfRange(g, layout.start(b), layout.end(b)));
      DMatrixRMaj xb = new DMatrixRMaj(f.numRows, 1);
      CommonOps_DDRM.mult(inv, gb, xb);
      System.arraycopy(xb.data, 0, x, layout.start(b), f.numRows);
    }
    return x;
  }

  double[] vector(long seed) {
    Random random = new Random(seed);
    double[] g = new double[p];
    for (int i = 0; i < p; i++) {
      g[i] = random.nextGaussian();
    }
    return g;
  }

  @Test
  void bothPathsEqualTheDenseLeaveOutSolveForOneAndSeveralRowsPerSample() {
    int[] erased = {3, 50, 51, 120, 239, 14}; // 14: a sample whose rows are zero on block 1
    double[] g = vector(5);
    try (LetheDb db = LetheDb.open(dir.resolve("db"))) {
      FisherStore store = new FisherStore(db);
      for (int r : new int[] {1, 3}) {
        for (double lambda : new double[] {0.5, 1e-2}) {
          float[] all = rows(r, 31 + r);
          build(store, "f", all, n, r, lambda, InversionMethod.GRAM);
          int[] kept = without(n, erased);
          double[] expected = dense(select(all, r, p, kept), kept.length, r, lambda, g);
          ErasedRows s = ErasedRows.ofArray(select(all, r, p, erased), erased.length, r, p);
          try (FisherInverse f = store.open("m", "f", ArrayRows.POOL, 2, true)) {
            assertTrue(f.header().withFisher(), "a Gram build stores F beside F⁻¹");
            for (LeaveOut.Path path : LeaveOut.Path.values()) {
              LeaveOut.Result result = LeaveOut.solve(f, s, g, null, ArrayRows.POOL, 2, 1L << 30, path);
              double err = Reference.relativeError(result.x(), expected);
              assertTrue(err <= RELATIVE, "r " + r + " λ " + lambda + " " + path + ": " + err);
              assertEquals(layout.blockCount(), result.woodburyBlocks() + result.refactorBlocks());
              if (path == LeaveOut.Path.WOODBURY) {
                assertEquals(layout.blockCount(), result.woodburyBlocks());
              }
              if (path == LeaveOut.Path.REFACTOR) {
                assertEquals(layout.blockCount(), result.refactorBlocks());
              }
            }
          }
          // and the full-Fisher step is measurably different (the test can tell them apart)
          double[] full = new double[p];
          try (FisherInverse f = store.open("m", "f", null, 1, true)) {
            f.apply(g, full);
          }
          assertTrue(Reference.relativeError(full, expected) > 10 * RELATIVE);
        }
      }
    }
  }

  @Test
  void largeRemovalsSmallBudgetsAndFishersStoredWithoutFAgree() {
    // k/n = 0.4: the Neumann series needs many terms; a budget of two blocks' rows: two passes;
    // a Sherman–Morrison build stores no F: the refactor path inverts the stored inverse.
    int r = 2;
    int[] erased = IntStream.range(0, 96).map(i -> i * 2 + 1).toArray();
    float[] all = rows(r, 7);
    double[] g = vector(6);
    int[] kept = without(n, erased);
    double lambda = 0.2;
    double[] expected = dense(select(all, r, p, kept), kept.length, r, lambda, g);
    ErasedRows s = ErasedRows.ofArray(select(all, r, p, erased), erased.length, r, p);
    long twoBlocks = 128L * erased.length * r * Float.BYTES;
    try (LetheDb db = LetheDb.open(dir.resolve("db"))) {
      FisherStore store = new FisherStore(db);
      build(store, "gram", all, n, r, lambda, InversionMethod.GRAM);
      build(store, "sm", all, n, r, lambda, InversionMethod.SHERMAN_MORRISON);
      assertFalse(store.header("m", "sm").orElseThrow().withFisher());
      for (String id : new String[] {"gram", "sm"}) {
        try (FisherInverse f = store.open("m", id, ArrayRows.POOL, 2, true)) {
          for (LeaveOut.Path path : LeaveOut.Path.values()) {
            LeaveOut.Result result = LeaveOut.solve(f, s, g, null, ArrayRows.POOL, 2, twoBlocks, path);
            assertEquals(2, result.passes());
            double err = Reference.relativeError(result.x(), expected);
            // the Sherman–Morrison recursion itself is less exact than Gram + Cholesky
            assertTrue(err <= (id.equals("sm") ? 1e-3 : RELATIVE), id + " " + path + ": " + err);
          }
        }
      }
    }
  }

  @Test
  void downdatesEqualARebuildSequentiallyAndAfterReopening() {
    int r = 3;
    double lambda = 0.05;
    float[] all = rows(r, 11);
    int[] first = {0, 9, 77, 150};
    int[] second = {10, 11, 200};
    double[] g = vector(8);
    Path db1 = dir.resolve("db");
    try (LetheDb db = LetheDb.open(db1)) {
      FisherStore store = new FisherStore(db);
      build(store, "full", all, n, r, lambda, InversionMethod.GRAM);
      FisherHeader target = new FisherHeader(layout, lambda, n - first.length, 1,
          CurvatureKind.TRUE, InversionMethod.GRAM, true, 1, null, new FisherHeader.Rows(r, 1, 0, false));
      try (FisherInverse f = store.open("m", "full", null, 1, true);
          FisherStore.Writer w = store.create("m", "down1", target)) {
        LeaveOut.Result result = LeaveOut.solve(f, ErasedRows.ofArray(select(all, r, p, first),
            first.length, r, p), g, w, ArrayRows.POOL, 2, 1L << 30, LeaveOut.Path.AUTO);
        assertEquals(layout.blockCount(), result.refactorBlocks(), "a downdate refactors every block");
        int[] kept = without(n, first);
        assertTrue(Reference.relativeError(result.x(), dense(select(all, r, p, kept), kept.length,
            r, lambda, g)) <= RELATIVE);
        w.commit();
      }
    }
    // after a restart: the downdated Fisher equals the dense F over D∖S (F and F⁻¹ blocks), and a
    // second leave-out from it equals the dense solve over D∖S₁∖S₂
    try (LetheDb db = LetheDb.open(db1)) {
      FisherStore store = new FisherStore(db);
      FisherHeader h = store.header("m", "down1").orElseThrow();
      assertEquals(n - first.length, h.samples());
      assertTrue(h.downdated() && h.withFisher());
      int[] kept = without(n, first);
      float[] keptRows = select(all, r, p, kept);
      try (FisherInverse f = store.open("m", "down1", ArrayRows.POOL, 2, true)) {
        for (int b = 0; b < layout.blockCount(); b++) {
          DMatrixRMaj fb = Reference.block(keptRows, p, Reference.range(kept.length * r), layout, b, lambda);
          double[] stored = new double[fb.numRows * fb.numCols];
          f.readFisher(b, stored);
          assertTrue(Reference.relativeError(stored, fb.data) <= RELATIVE, "F of block " + b);
          DMatrixRMaj inv = new DMatrixRMaj(fb.numRows, fb.numCols);
          assertTrue(CommonOps_DDRM.invert(fb, inv));
          f.readInverse(b, stored);
          assertTrue(Reference.relativeError(stored, inv.data) <= RELATIVE, "F⁻¹ of block " + b);
        }
        int[] secondInKept = Arrays.stream(second).map(id -> Arrays.binarySearch(kept, id)).toArray();
        float[] secondRows = select(keptRows, r, p, secondInKept);
        int[] keptTwice = without(kept.length, secondInKept);
        double[] expected = dense(select(keptRows, r, p, keptTwice), keptTwice.length, r, lambda, g);
        for (LeaveOut.Path path : LeaveOut.Path.values()) {
          LeaveOut.Result result = LeaveOut.solve(f, ErasedRows.ofArray(secondRows, second.length, r, p),
              g, null, ArrayRows.POOL, 2, 1L << 30, path);
          assertTrue(Reference.relativeError(result.x(), expected) <= RELATIVE, path.toString());
        }
      }
    }
  }

  @Test
  void rowsThatWereNotPartOfTheFisherAreRefusedNamingTheBlockAndNothingIsWritten() {
    int r = 1;
    float[] all = rows(r, 12);
    float[] foreign = Reference.gradients(new Random(99), 3, p);
    for (int i = 0; i < 64; i++) {
      foreign[i] *= 400; // far outside anything the Fisher holds on block 0
    }
    double[] g = vector(9);
    try (LetheDb db = LetheDb.open(dir.resolve("db"))) {
      FisherStore store = new FisherStore(db);
      build(store, "full", all, n, r, 1e-3, InversionMethod.GRAM);
      FisherHeader target = store.header("m", "full").orElseThrow();
      try (FisherInverse f = store.open("m", "full", null, 1, true)) {
        for (LeaveOut.Path path : LeaveOut.Path.values()) {
          LetheException e = assertThrows(LetheException.class, () -> LeaveOut.solve(f,
              ErasedRows.ofArray(foreign, 3, r, p), g, null, null, 1, 1L << 30, path));
          assertEquals(LetheException.Kind.FAILED_PRECONDITION, e.kind());
          assertTrue(e.getMessage().contains("Fisher block 0 (entries [0, 64))"), e.getMessage());
        }
        try (FisherStore.Writer w = store.create("m", "down", target)) {
          assertThrows(LetheException.class, () -> LeaveOut.solve(f,
              ErasedRows.ofArray(foreign, 3, r, p), g, w, null, 1, 1L << 30, LeaveOut.Path.AUTO));
        }
        assertTrue(store.header("m", "down").isEmpty(), "nothing committed");
        LetheException all240 = assertThrows(LetheException.class, () -> LeaveOut.solve(f,
            ErasedRows.ofArray(all, n, r, p), g, null, null, 1, 1L << 30, LeaveOut.Path.AUTO));
        assertEquals(LetheException.Kind.FAILED_PRECONDITION, all240.kind());
      }
    }
  }

  @Test
  void seriesTermsFollowTheBound() {
    assertEquals(1, LeaveOut.seriesTerms(0));
    assertTrue(LeaveOut.seriesTerms(1e-3) <= 6);
    assertTrue(LeaveOut.seriesTerms(0.5) >= 37 && LeaveOut.seriesTerms(0.5) <= 39);
  }
}
