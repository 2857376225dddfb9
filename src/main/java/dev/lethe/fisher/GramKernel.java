package dev.lethe.fisher;

/**
 * The rank-k update of a block's Gram accumulator, C += Gᵀ G restricted to the upper triangle,
 * with G the block's k gradient rows. A register-blocked symmetric product in 2×4 tiles (fused
 * multiply-adds, one instruction each where the CPU has FMA) over columns stored contiguously
 * (G transposed): about 3× EJML's general {@code multAddTransA} on the same shapes, because it
 * computes half the products and streams two rows of Gᵀ against four at a time (see
 * docs/fisher.md, FisherBench).
 */
final class GramKernel {
  private GramKernel() {}

  /** b rounded up to a multiple of 4: the stride of the accumulator and of the transposed rows. */
  static int padded(int b) {
    return (b + 3) & ~3;
  }

  /**
   * Copies the columns {@code [offset, offset + b)} of {@code k} float rows (row-major, row length
   * {@code span}) into {@code gt}, transposed: column c occupies {@code gt[c*k, c*k + k)}; the
   * padding columns up to {@link #padded}(b) are zeroed. gt is modified; rows is not.
   */
  static void transpose(float[] rows, int k, int span, int offset, int b, double[] gt) {
    for (int r = 0; r < k; r++) {
      int src = r * span + offset;
      for (int c = 0, dst = r; c < b; c++, dst += k) {
        gt[dst] = rows[src + c];
      }
    }
    java.util.Arrays.fill(gt, b * k, padded(b) * k, 0.0);
  }

  /**
   * As {@link #transpose}, but skips the rows whose columns {@code [offset, offset + b)} are all
   * zero (they add nothing to GᵀG): the {@code used} rows kept are packed as a k = used transpose
   * (column c at {@code gt[c*used, c*used + used)}). Returns used.
   */
  static int transposeNonZero(float[] rows, int k, int span, int offset, int b, double[] gt) {
    int[] keep = new int[k];
    int used = 0;
    for (int r = 0; r < k; r++) {
      int src = r * span + offset;
      for (int c = 0; c < b; c++) {
        if (rows[src + c] != 0f) {
          keep[used++] = r;
          break;
        }
      }
    }
    if (used == k) {
      transpose(rows, k, span, offset, b, gt);
      return k;
    }
    for (int u = 0; u < used; u++) {
      int src = keep[u] * span + offset;
      for (int c = 0, dst = u; c < b; c++, dst += used) {
        gt[dst] = rows[src + c];
      }
    }
    java.util.Arrays.fill(gt, b * used, padded(b) * used, 0.0);
    return used;
  }

  /**
   * Copies the columns {@code [offset, offset + b)} of the {@code k} float rows (row length
   * {@code span}) that are not all zero there into {@code out} as doubles, one after another
   * with stride {@link #padded}(b) (padding entries zeroed): the rows as the columns of a
   * column-major b4 × used matrix, which is what a BLAS DSYRK with trans "N" takes. Returns
   * used. out is modified; rows is not.
   */
  static int copyNonZero(float[] rows, int k, int span, int offset, int b, double[] out) {
    int b4 = padded(b);
    int used = 0;
    for (int r = 0; r < k; r++) {
      int src = r * span + offset;
      int dst = used * b4;
      boolean any = false;
      for (int c = 0; c < b; c++) {
        float v = rows[src + c];
        out[dst + c] = v;
        any |= v != 0f;
      }
      if (any) {
        java.util.Arrays.fill(out, dst + b, dst + b4, 0.0);
        used++;
      }
    }
    return used;
  }

  /**
   * c[i·b4 + j] += Σ_r gt[i·k + r]·gt[j·k + r] for every 2×4 tile (rows i, i+1; columns j..j+3)
   * whose columns start at or after the 4-aligned column of i (b4 = padded(b)); entries left of
   * that are not touched, and the few below the diagonal inside those tiles are updated too but
   * are not meant to be read. c is modified; gt is not.
   */
  static void syrkUpper(double[] gt, int k, int b4, double[] c) {
    // 2×4 tiles: 8 accumulators and 6 operands stay in registers (a 4×4 tile needs 24 and spills).
    for (int i = 0; i < b4; i += 2) {
      int a0 = i * k;
      int a1 = a0 + k;
      for (int j = i & ~3; j < b4; j += 4) {
        int o0 = j * k;
        int o1 = o0 + k;
        int o2 = o1 + k;
        int o3 = o2 + k;
        double c00 = 0, c01 = 0, c02 = 0, c03 = 0;
        double c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        for (int r = 0; r < k; r++) {
          double x0 = gt[a0 + r], x1 = gt[a1 + r];
          double y0 = gt[o0 + r], y1 = gt[o1 + r], y2 = gt[o2 + r], y3 = gt[o3 + r];
          c00 = Math.fma(x0, y0, c00);
          c01 = Math.fma(x0, y1, c01);
          c02 = Math.fma(x0, y2, c02);
          c03 = Math.fma(x0, y3, c03);
          c10 = Math.fma(x1, y0, c10);
          c11 = Math.fma(x1, y1, c11);
          c12 = Math.fma(x1, y2, c12);
          c13 = Math.fma(x1, y3, c13);
        }
        int p = i * b4 + j;
        c[p] += c00;
        c[p + 1] += c01;
        c[p + 2] += c02;
        c[p + 3] += c03;
        p += b4;
        c[p] += c10;
        c[p + 1] += c11;
        c[p + 2] += c12;
        c[p + 3] += c13;
      }
    }
  }
}
