package dev.lethe.fisher;

import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.NormOps_DDRM;

/** Independent dense computations the Fisher code is checked against (EJML, no shortcuts). */
final class Reference {
  private Reference() {}

  /** Gaussian rows [n, p] with per-column scales, so blocks are not all alike. */
  static float[] gradients(Random random, int n, int p) {
    float[] g = new float[n * p];
    double[] scale = new double[p];
    for (int c = 0; c < p; c++) {
      scale[c] = 0.2 + random.nextDouble();
    }
    for (int r = 0; r < n; r++) {
      for (int c = 0; c < p; c++) {
        g[r * p + c] = (float) (random.nextGaussian() * scale[c]);
      }
    }
    return g;
  }

  /** Dense F_b = λI + (1/count)Σ_i g_{i,b} g_{i,b}ᵀ over the given rows of block b. */
  static DMatrixRMaj block(float[] g, int p, int[] rows, BlockLayout layout, int b, double lambda) {
    int s = layout.start(b);
    int size = layout.size(b);
    DMatrixRMaj f = new DMatrixRMaj(size, size);
    for (int r : rows) {
      for (int i = 0; i < size; i++) {
        for (int j = 0; j < size; j++) {
          f.add(i, j, (double) g[r * p + s + i] * g[r * p + s + j]);
        }
      }
    }
    CommonOps_DDRM.scale(1.0 / rows.length, f);
    for (int i = 0; i < size; i++) {
      f.add(i, i, lambda);
    }
    return f;
  }

  /** The whole block-diagonal F as one dense P × P matrix. */
  static DMatrixRMaj blockDiagonal(float[] g, int p, int[] rows, BlockLayout layout, double lambda) {
    DMatrixRMaj f = new DMatrixRMaj(p, p);
    for (int b = 0; b < layout.blockCount(); b++) {
      CommonOps_DDRM.insert(block(g, p, rows, layout, b, lambda), f, layout.start(b), layout.start(b));
    }
    return f;
  }

  static int[] range(int n) {
    int[] r = new int[n];
    for (int i = 0; i < n; i++) {
      r[i] = i;
    }
    return r;
  }

  /** ‖a − b‖_F / ‖b‖_F. */
  static double relativeError(DMatrixRMaj a, DMatrixRMaj b) {
    DMatrixRMaj d = new DMatrixRMaj(a.numRows, a.numCols);
    CommonOps_DDRM.subtract(a, b, d);
    return NormOps_DDRM.normF(d) / NormOps_DDRM.normF(b);
  }

  static double relativeError(double[] a, double[] b) {
    double num = 0;
    double den = 0;
    for (int i = 0; i < a.length; i++) {
      num += (a[i] - b[i]) * (a[i] - b[i]);
      den += b[i] * b[i];
    }
    return Math.sqrt(num / den);
  }

  /** A sink that keeps every block in memory, in double (tests only). */
  static final class Blocks implements FisherSink {
    final ConcurrentMap<Integer, DMatrixRMaj> blocks = new ConcurrentHashMap<>();
    final BlockLayout layout;
    private FisherHeader header;

    Blocks(BlockLayout layout) {
      this.layout = layout;
    }

    /** The factory that opens this sink for whatever Fisher a build creates. */
    FisherSink.Factory factory() {
      return (model, id, h) -> {
        header = h;
        return this;
      };
    }

    @Override
    public FisherHeader commit(FisherHeader.Rows rows) {
      return header;
    }

    @Override
    public void close() {}

    @Override
    public void accept(int block, double[] inverse) {
      int b = layout.size(block);
      if (blocks.putIfAbsent(block, DMatrixRMaj.wrap(b, b, inverse)) != null) {
        throw new AssertionError("block " + block + " delivered twice");
      }
    }

    DMatrixRMaj get(int b) {
      return blocks.get(b);
    }
  }
}
