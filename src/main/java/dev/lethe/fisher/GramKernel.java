package dev.lethe.fisher;

/**
 * The rank-k update of a block's Gram accumulator, C += Gᵀ G restricted to the upper triangle,
 * with G the block's k gradient rows. A 4×4 register-blocked symmetric product over columns
 * stored contiguously (G transposed): about 3× EJML's general {@code multAddTransA} on the same
 * shapes, because it computes half the products and streams two columns at a time (see
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
   * c[i·b4 + j] += Σ_r gt[i·k + r]·gt[j·k + r] for every 4×4 tile on or above the diagonal
   * (b4 = padded(b)); entries below the diagonal tiles are not touched, those inside diagonal tiles
   * are updated too but are not meant to be read. c is modified; gt is not.
   */
  static void syrkUpper(double[] gt, int k, int b4, double[] c) {
    for (int i = 0; i < b4; i += 4) {
      int a0 = i * k;
      int a1 = a0 + k;
      int a2 = a1 + k;
      int a3 = a2 + k;
      for (int j = i; j < b4; j += 4) {
        int o0 = j * k;
        int o1 = o0 + k;
        int o2 = o1 + k;
        int o3 = o2 + k;
        double c00 = 0, c01 = 0, c02 = 0, c03 = 0;
        double c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        double c20 = 0, c21 = 0, c22 = 0, c23 = 0;
        double c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int r = 0; r < k; r++) {
          double x0 = gt[a0 + r], x1 = gt[a1 + r], x2 = gt[a2 + r], x3 = gt[a3 + r];
          double y0 = gt[o0 + r], y1 = gt[o1 + r], y2 = gt[o2 + r], y3 = gt[o3 + r];
          c00 += x0 * y0;
          c01 += x0 * y1;
          c02 += x0 * y2;
          c03 += x0 * y3;
          c10 += x1 * y0;
          c11 += x1 * y1;
          c12 += x1 * y2;
          c13 += x1 * y3;
          c20 += x2 * y0;
          c21 += x2 * y1;
          c22 += x2 * y2;
          c23 += x2 * y3;
          c30 += x3 * y0;
          c31 += x3 * y1;
          c32 += x3 * y2;
          c33 += x3 * y3;
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
        p += b4;
        c[p] += c20;
        c[p + 1] += c21;
        c[p + 2] += c22;
        c[p + 3] += c23;
        p += b4;
        c[p] += c30;
        c[p + 1] += c31;
        c[p + 2] += c32;
        c[p + 3] += c33;
      }
    }
  }

  /** Multiply-adds one {@link #syrkUpper} call performs. */
  static long multiplyAdds(int k, int b4) {
    long tiles = (long) (b4 / 4) * (b4 / 4 + 1) / 2;
    return tiles * 16L * k;
  }
}
