package dev.lethe.fisher;

import dev.lethe.core.LetheException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.LinearSolverFactory_DDRM;
import org.ejml.interfaces.linsol.LinearSolverDense;

/**
 * Removes k samples from a stored Fisher inverse without a rebuild: from F⁻¹ over D (n samples)
 * to F'⁻¹ over D∖S, exactly what a rebuild on the n − k remaining samples gives:
 *
 * <pre>
 *   F  = λI + (1/n)     Σ_D   g gᵀ
 *   F' = λI + (1/(n−k)) Σ_D∖S g gᵀ  =  n/(n−k) · ( F − (kλ/n)·I − (1/n)·UUᵀ )
 * </pre>
 *
 * (U = the block's rows of the k removed gradients, as columns). The count n does change to
 * n − k: keeping 1/n would give a Fisher that no rebuild produces and that drifts further from
 * one with every erase. The change of n is a rescaling of F by n/(n−k) plus a small shift of the
 * dampening, −(kλ/n)·I; the shift is full rank, so it is not a low-rank update — it is applied
 * exactly with one well-conditioned solve, M⁻¹ = (F − δI)⁻¹ = (I − δF⁻¹)⁻¹·F⁻¹ with δ = kλ/n
 * (the eigenvalues of δF⁻¹ are at most k/n < 1, so I − δF⁻¹ is SPD with condition ≤ n/(n−k)).
 * Then the rank-k Woodbury downdate
 *
 * <pre>
 *   (M − (1/n)UUᵀ)⁻¹ = M⁻¹ + M⁻¹U (nI − UᵀM⁻¹U)⁻¹ UᵀM⁻¹,     F'⁻¹ = (n−k)/n · (M − (1/n)UUᵀ)⁻¹
 * </pre>
 *
 * Cost per block of b: about b³ (the solve) + 2b²k; no gradients of the remaining samples are
 * needed. The removed gradients must be the very rows the Fisher was built from (same weights).
 * Only per-sample Fishers (m = 1) can be downdated: a sample's share of a mini-batch average is
 * not an outer product of its own.
 *
 * <p>The result is written under a new Fisher id (header last, so it appears complete or not at
 * all); the source stays untouched until the caller deletes it, so readers never see a half
 * updated Fisher.
 */
public final class FisherDowndate {
  private FisherDowndate() {}

  /**
   * Writes F'⁻¹ under {@code toId} and returns its header.
   *
   * @param rows the k removed gradients, one array of P floats each
   * @param modelVersion the model version to record in the new header
   * @param pool the shared Fisher pool (blocks in parallel; about 4 b² doubles of heap per
   *     task), or null for the calling thread
   * @param parallelism tasks
   * @throws LetheException INVALID_ARGUMENT for bad shapes or k ≥ n; FAILED_PRECONDITION for a
   *     missing source, a mini-batch Fisher, or toId equal to fromId; INVALID_ARGUMENT
   *     (samples) when removing the rows leaves a block not positive definite (they were not
   *     part of the Fisher)
   */
  public static FisherHeader downdate(
      FisherStore store, String model, String fromId, String toId, float[][] rows, long modelVersion,
      ExecutorService pool, int parallelism) {
    int k = rows.length;
    if (fromId.equals(toId)) {
      throw LetheException.precondition("downdate writes a new Fisher: target id equals source " + fromId);
    }
    try (FisherInverse source = store.open(model, fromId, null, 1, true)) {
      FisherHeader h = source.header();
      BlockLayout layout = h.layout();
      int p = layout.parameterCount();
      long n = h.samples();
      if (h.miniBatch() != 1) {
        throw LetheException.precondition(
            "Fisher " + fromId + " was built from mini-batches of " + h.miniBatch() + "; only per-sample Fishers can be downdated");
      }
      for (float[] row : rows) {
        if (row.length != p) {
          throw LetheException.invalid("gradients", "expected rows of " + p + " floats, got " + row.length);
        }
      }
      if (k < 1) {
        throw LetheException.invalid("gradients", "no rows to remove");
      }
      if (k >= n) {
        throw LetheException.invalid("samples", "cannot remove " + k + " of " + n + " samples");
      }
      FisherHeader target =
          new FisherHeader(layout, h.dampening(), n - k, 1, h.kind(), h.method(), true, modelVersion, null);
      try (FisherStore.Writer writer = store.create(model, toId, target)) {
        AtomicInteger next = new AtomicInteger();
        Callable<Void> task = () -> {
          for (int b; (b = next.getAndIncrement()) < layout.blockCount(); ) {
            writer.accept(b, block(source, b, rows, n, h.dampening()));
          }
          return null;
        };
        if (pool == null) {
          Futures.call(task);
        } else {
          List<Future<?>> futures = new ArrayList<>();
          for (int t = 0; t < parallelism; t++) {
            futures.add(pool.submit(task));
          }
          Futures.awaitAll(futures, "the Fisher downdate");
        }
        return writer.commit();
      }
    }
  }

  /** F'⁻¹ of block b (see the class comment). */
  static double[] block(FisherInverse source, int blk, float[][] rows, long n, double lambda) {
    int k = rows.length;
    BlockLayout layout = source.layout();
    int b = layout.size(blk);
    int s = layout.start(blk);
    float[] stored = new float[b * b];
    source.readBlock(blk, stored);
    DMatrixRMaj h = new DMatrixRMaj(b, b);
    for (int i = 0; i < b * b; i++) {
      h.data[i] = stored[i];
    }
    stored = null;
    // M⁻¹ = (I − δH)⁻¹ H, δ = kλ/n
    double delta = k * lambda / n;
    DMatrixRMaj mInv;
    if (delta > 0) {
      DMatrixRMaj w = new DMatrixRMaj(b, b);
      for (int i = 0; i < b * b; i++) {
        w.data[i] = -delta * h.data[i];
      }
      for (int i = 0; i < b; i++) {
        w.data[i * b + i] += 1;
      }
      LinearSolverDense<DMatrixRMaj> chol = LinearSolverFactory_DDRM.chol(b);
      if (!chol.setA(w)) {
        throw new IllegalStateException(FisherAccumulator.describe(layout, blk) + ": I − δF⁻¹ not positive definite");
      }
      mInv = new DMatrixRMaj(b, b);
      chol.solve(h, mInv);
      symmetrize(mInv);
    } else {
      mInv = h;
    }
    // Woodbury: Z = M⁻¹U (b × k), C = nI − UᵀZ (k × k), result += Z C⁻¹ Zᵀ
    DMatrixRMaj u = new DMatrixRMaj(b, k);
    for (int r = 0; r < k; r++) {
      for (int i = 0; i < b; i++) {
        u.data[i * k + r] = rows[r][s + i];
      }
    }
    DMatrixRMaj z = new DMatrixRMaj(b, k);
    CommonOps_DDRM.mult(mInv, u, z);
    DMatrixRMaj c = new DMatrixRMaj(k, k);
    CommonOps_DDRM.multTransA(u, z, c);
    CommonOps_DDRM.scale(-1, c);
    for (int i = 0; i < k; i++) {
      c.data[i * k + i] += n;
    }
    symmetrize(c);
    LinearSolverDense<DMatrixRMaj> cChol = LinearSolverFactory_DDRM.chol(k);
    if (!cChol.setA(c)) {
      throw LetheException.invalid(
          "samples",
          "removing these " + k + " gradients leaves " + FisherAccumulator.describe(layout, blk)
              + " not positive definite: they are not part of this Fisher");
    }
    DMatrixRMaj zt = new DMatrixRMaj(k, b);
    CommonOps_DDRM.transpose(z, zt);
    DMatrixRMaj y = new DMatrixRMaj(k, b);
    cChol.solve(zt, y);
    CommonOps_DDRM.multAdd(z, y, mInv);
    CommonOps_DDRM.scale((double) (n - k) / n, mInv);
    symmetrize(mInv);
    return mInv.data;
  }

  private static void symmetrize(DMatrixRMaj a) {
    int b = a.numRows;
    for (int i = 0; i < b; i++) {
      for (int j = i + 1; j < b; j++) {
        double v = 0.5 * (a.data[i * b + j] + a.data[j * b + i]);
        a.data[i * b + j] = v;
        a.data[j * b + i] = v;
      }
    }
  }


}
