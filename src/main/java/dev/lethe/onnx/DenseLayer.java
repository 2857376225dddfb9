package dev.lethe.onnx;

/**
 * An erasable weight of a Gemm, MatMul or Conv (group 1) whose per-sample gradient is an outer
 * product (summed over a Conv's output positions)
 * δ aᵀ of the layer's input a [in] and the cotangent δ [out] at its output, so a Kronecker
 * factored Fisher can take A = E[a aᵀ] and G = E[δ δᵀ] instead of the outer products
 * (K-FAC, Martens &amp; Grosse 2015). Found by {@link GradientGraph}; immutable.
 *
 * <p>Index convention: entry (o, j) of the gradient (output o, input j) is the weight's
 * flattened entry {@code o·in + j} when {@code outMajor} (Gemm with transB = 1: B is [out, in]),
 * else {@code j·out + o} (MatMul, Gemm with transB = 0: B is [in, out]). The weight's gradient
 * entry is {@code alpha·δ_o·a_j}; the bias's (when {@code bias ≥ 0}: a Gemm's C of [out] or
 * [1, out], erasable and used nowhere else) {@code beta·δ_o}, i.e. the bias is the constant
 * input {@code beta} folded in as column {@code in}.
 *
 * @param weight the weight's index among the erasable parameters (spec order)
 * @param bias the bias's index, or -1 when it is not folded in
 * @param out the output width
 * @param in the input width (without the folded bias)
 * @param outMajor the weight is stored [out, in] (else [in, out])
 * @param alpha Gemm's alpha (1 for MatMul)
 * @param beta Gemm's beta (the folded bias's constant input)
 * @param node the node's output value (its gradient is δ)
 * @param positions T, the output positions a Conv's gradient sums over (δ aᵀ summed over the
 *     im2col patches a_t, KFC); 1 for Gemm/MatMul. For a Conv, {@code in} = C·K (channels times
 *     the kernel's size), the weight [M, C, k1..ks] is out-major, and the FACTORS graph gives
 *     inputs [N, in, T] and cotangents [N, out, T]
 */
public record DenseLayer(int weight, int bias, int out, int in, boolean outMajor, float alpha,
    float beta, String node, int positions) {

  /** A Gemm/MatMul layer. */
  public DenseLayer(int weight, int bias, int out, int in, boolean outMajor, float alpha,
      float beta, String node) {
    this(weight, bias, out, in, outMajor, alpha, beta, node, 1);
  }
}
