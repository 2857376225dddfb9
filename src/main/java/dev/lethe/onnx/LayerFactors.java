package dev.lethe.onnx;

/**
 * What the {@link GradientGraph.Seed#FACTORS} graph computes for N samples and their
 * cotangents: per {@link DenseLayer} (in {@link GradientGraph#layers()} order) its inputs
 * a [N, in, T] (a Conv's im2col patches) and output cotangents δ [N, out, T] (T = 1 for
 * Gemm/MatMul), and the per-sample gradients of the other erasable
 * parameters ({@link GradientGraph#otherParameters()}, spec order, flattened and concatenated):
 * [N, P_other]. Row-major float32; the arrays belong to the caller.
 */
public record LayerFactors(int samples, float[][] inputs, float[][] cotangents, float[] others,
    int otherColumns) {}
