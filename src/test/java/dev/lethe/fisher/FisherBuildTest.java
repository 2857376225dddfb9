package dev.lethe.fisher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.core.LetheException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The one build pipeline ({@link FisherBuild}, as BuildFisher runs it) against dense inverses,
 * the Sherman–Morrison reference and itself across passes.
 */
class FisherBuildTest {
  /** Gram vs Sherman–Morrison, both in double: only rounding differs. */
  static final double METHODS_AGREE = 1e-5;
  /** F·F⁻¹ against I, max abs entry. */
  static final double IDENTITY = 1e-9;
  /** Multi-pass vs one pass: identical arithmetic per block, so bit-equal is expected. */
  static final double PASSES_AGREE = 0;

  @TempDir Path dir;

  // P = 150 in blocks of ≤ 64 (the last one short, b not a multiple of 4), n = 200
  final BlockLayout layout = BlockLayout.uniform(150, 64);
  final int n = 200;
  final float[] g = Reference.gradients(new Random(11), n, 150);
  final BuildOptions options = BuildOptions.defaults(0.05).withBatchRows(37);

  Reference.Blocks build(BuildOptions o, ArrayRows source) {
    Reference.Blocks out = new Reference.Blocks(layout);
    source.build(layout, o, out.factory(), dir);
    assertEquals(layout.blockCount(), out.blocks.size());
    return out;
  }

  @Test
  void gramAndShermanMorrisonAgree() {
    ArrayRows src = new ArrayRows(g, n, 150);
    Reference.Blocks gram = build(options, src);
    Reference.Blocks sm = build(options.withMethod(InversionMethod.SHERMAN_MORRISON), src);
    for (int b = 0; b < layout.blockCount(); b++) {
      double err = Reference.relativeError(gram.get(b), sm.get(b));
      assertTrue(err <= METHODS_AGREE, "block " + b + ": relative error " + err);
    }
  }

  @Test
  void rowsThatAreZeroOnABlockAreSkippedWithoutChangingTheInverse() {
    // Zero out, per row, a random subset of blocks (and some whole rows), as a TRUE Fisher of a
    // multi-attribute linear model does; the Gram inverse must still be the direct inverse.
    float[] sparse = g.clone();
    Random random = new Random(5);
    for (int r = 0; r < n; r++) {
      for (int b = 0; b < layout.blockCount(); b++) {
        if (r % 7 == 0 || random.nextInt(3) == 0) {
          java.util.Arrays.fill(sparse, r * 150 + layout.start(b), r * 150 + layout.end(b), 0f);
        }
      }
    }
    Reference.Blocks gram = build(options, new ArrayRows(sparse, n, 150));
    for (int b = 0; b < layout.blockCount(); b++) {
      DMatrixRMaj f = Reference.block(sparse, 150, Reference.range(n), layout, b, 0.05);
      DMatrixRMaj direct = new DMatrixRMaj(f.numRows, f.numCols);
      CommonOps_DDRM.invert(f, direct);
      double err = Reference.relativeError(gram.get(b), direct);
      assertTrue(err <= METHODS_AGREE, "block " + b + ": relative error " + err);
    }
  }

  @Test
  void inverseTimesFisherIsIdentity() {
    Reference.Blocks gram = build(options.withThreads(3), new ArrayRows(g, n, 150));
    for (int b = 0; b < layout.blockCount(); b++) {
      DMatrixRMaj f = Reference.block(g, 150, Reference.range(n), layout, b, 0.05);
      DMatrixRMaj prod = new DMatrixRMaj(f.numRows, f.numCols);
      CommonOps_DDRM.mult(f, gram.get(b), prod);
      for (int i = 0; i < f.numRows; i++) {
        prod.add(i, i, -1);
      }
      assertTrue(CommonOps_DDRM.elementMaxAbs(prod) <= IDENTITY, "block " + b);
    }
  }

  @Test
  void miniBatchOfOneIsThePlainFisherAndLargerAveragesRows() {
    ArrayRows src = new ArrayRows(g, n, 150);
    Reference.Blocks plain = build(options, src);
    Reference.Blocks m1 = build(options.withMiniBatch(1), src);
    for (int b = 0; b < layout.blockCount(); b++) {
      assertTrue(CommonOps_DDRM.elementMaxAbs(diff(plain.get(b), m1.get(b))) == 0, "block " + b);
    }
    // m = 3 with n = 200: 67 averaged vectors (the last of 2 rows), normalised by 1/67.
    int m = 3;
    int vectors = (n + m - 1) / m;
    float[] avg = new float[vectors * 150];
    for (int v = 0; v < vectors; v++) {
      int count = Math.min(m, n - v * m);
      for (int c = 0; c < 150; c++) {
        double s = 0;
        for (int r = v * m; r < v * m + count; r++) {
          s += g[r * 150 + c];
        }
        avg[v * 150 + c] = (float) (s / count);
      }
    }
    Reference.Blocks mini = build(options.withMiniBatch(m).withBatchRows(5), src);
    for (int b = 0; b < layout.blockCount(); b++) {
      DMatrixRMaj expected = Reference.block(avg, 150, Reference.range(vectors), layout, b, 0.05);
      DMatrixRMaj inv = new DMatrixRMaj(expected.numRows, expected.numCols);
      assertTrue(CommonOps_DDRM.invert(expected, inv));
      assertTrue(Reference.relativeError(mini.get(b), inv) <= 1e-9, "block " + b);
    }
  }

  @Test
  void multiPassEqualsOnePassAndSpillFileIsDeleted() throws Exception {
    Reference.Blocks one = build(options, new ArrayRows(g, n, 150));
    long twoBlocks = 2 * FisherAccumulator.accumulatorBytes(InversionMethod.GRAM, 64);
    assertEquals(2, BuildPlan.passes(layout, InversionMethod.GRAM, twoBlocks).size());
    assertEquals(3, BuildPlan.passes(layout, InversionMethod.GRAM, twoBlocks / 2).size());
    Path spills = Files.createDirectory(dir.resolve("spill"));
    Reference.Blocks multi = new Reference.Blocks(layout);
    FisherProgress.Summary summary = new ArrayRows(g, n, 150)
        .build(layout, options.withMemoryBudget(twoBlocks / 2), multi.factory(), spills);
    assertEquals(3, summary.passes());
    try (var left = Files.list(spills)) {
      assertEquals(0, left.count(), "the sample spill is deleted after the build");
    }
    for (int b = 0; b < layout.blockCount(); b++) {
      assertTrue(CommonOps_DDRM.elementMaxAbs(diff(one.get(b), multi.get(b))) <= PASSES_AGREE, "block " + b);
    }
  }

  @Test
  void rankDeficientBlockWithoutDampingIsReportedByName() {
    // n = 20 < 64: every full block of λI + (1/n)GᵀG with λ = 0 is singular.
    float[] few = Reference.gradients(new Random(3), 20, 150);
    LetheException e =
        assertThrows(
            LetheException.class,
            () -> build(BuildOptions.defaults(0).withThreads(1), new ArrayRows(few, 20, 150)));
    assertEquals(LetheException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().contains("Fisher block 0 (entries [0, 64))"), e.getMessage());
    assertTrue(e.getMessage().startsWith("dampening:"), e.getMessage());
  }

  @Test
  void wrongRowCountsAndBudgetsAreRefused() {
    FisherAccumulator acc = new FisherAccumulator(layout, 0, layout.blockCount(), n, options, null);
    acc.accept(g, 10);
    LetheException few = assertThrows(LetheException.class, () -> acc.finish((b, inv) -> {}));
    assertTrue(few.getMessage().contains("expected 200 gradient rows, got 10"), few.getMessage());
    LetheException budget =
        assertThrows(LetheException.class, () -> BuildPlan.passes(layout, InversionMethod.GRAM, 1000));
    assertEquals(LetheException.Kind.RESOURCE_EXHAUSTED, budget.kind());
    assertTrue(budget.getMessage().startsWith("options.block_size:"), budget.getMessage());
    assertTrue(budget.getMessage().contains("--fisher-memory-bytes"), budget.getMessage());
    assertThrows(LetheException.class, () -> BuildOptions.defaults(0).withMethod(InversionMethod.SHERMAN_MORRISON));
  }

  private static DMatrixRMaj diff(DMatrixRMaj a, DMatrixRMaj b) {
    DMatrixRMaj d = new DMatrixRMaj(a.numRows, a.numCols);
    CommonOps_DDRM.subtract(a, b, d);
    return d;
  }
}
