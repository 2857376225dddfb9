package dev.lethe.onnx.grad;

import ai.onnx.proto.OnnxMl;

/**
 * The sliding-window geometry of a Conv or pooling node with S spatial axes: kernel, strides,
 * dilations and explicit pads (begin..., end...), auto_pad resolved from the probed input and
 * output sizes.
 */
record Windows(long[] kernel, long[] strides, long[] dilations, long[] pads, long[] in, long[] out) {

  static Windows of(OnnxMl.NodeProto node, long[] kernel, long[] xShape, long[] yShape) {
    int s = kernel.length;
    long[] strides = orOnes(GradContext.attrInts(node, "strides"), s);
    long[] dil = orOnes(GradContext.attrInts(node, "dilations"), s);
    long[] in = java.util.Arrays.copyOfRange(xShape, 2, 2 + s);
    long[] out = java.util.Arrays.copyOfRange(yShape, 2, 2 + s);
    String autoPad = GradContext.attrString(node, "auto_pad", "NOTSET");
    long[] pads = GradContext.attrInts(node, "pads");
    if (pads == null || pads.length == 0 || !autoPad.equals("NOTSET")) {
      pads = new long[2 * s];
    }
    if (autoPad.startsWith("SAME")) {
      for (int i = 0; i < s; i++) {
        long total = Math.max(0, (out[i] - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - in[i]);
        long small = total / 2;
        pads[i] = autoPad.equals("SAME_UPPER") ? small : total - small;
        pads[i + s] = total - pads[i];
      }
    }
    return new Windows(kernel, strides, dil, pads, in, out);
  }

  private static long[] orOnes(long[] v, int s) {
    if (v != null && v.length == s) {
      return v;
    }
    long[] ones = new long[s];
    java.util.Arrays.fill(ones, 1);
    return ones;
  }

  int spatial() {
    return kernel.length;
  }

  /** output_padding making ConvTranspose of an [.., out] tensor produce exactly [.., in]. */
  long[] outputPadding() {
    long[] op = new long[spatial()];
    for (int i = 0; i < spatial(); i++) {
      long produced = strides[i] * (out[i] - 1) + (kernel[i] - 1) * dilations[i] + 1 - pads[i] - pads[i + spatial()];
      op[i] = in[i] - produced;
    }
    return op;
  }

  /** True when no input element lies in two windows. */
  boolean disjoint() {
    for (int i = 0; i < spatial(); i++) {
      if (strides[i] < (kernel[i] - 1) * dilations[i] + 1) {
        return false;
      }
    }
    return true;
  }

  long kernelSize() {
    long k = 1;
    for (long d : kernel) {
      k *= d;
    }
    return k;
  }

  /**
   * Emits ConvTranspose(g, w) with this geometry: the adjoint of the windowed sum, so it maps an
   * output-shaped gradient back onto the input positions each window read.
   */
  String adjoint(Emitter e, String g, String w, long group) {
    return e.op("ConvTranspose", new String[] {g, w}, "strides", strides, "dilations", dilations,
        "pads", pads, "group", group, "output_padding", outputPadding(), "kernel_shape", kernel);
  }
}
