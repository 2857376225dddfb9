package dev.lethe.fisher;

/**
 * What a Kronecker-factored Fisher needs of N rows (samples, each with a cotangent at the
 * logits): per {@link KroneckerLayer} (in {@link ModelView#kroneckerLayers()} order) the layer's
 * inputs a [N, in, T] and output cotangents δ [N, out, T] (T = {@link KroneckerLayer#positions()}), and the per-sample gradients of ⟨v, z⟩ of
 * the other erasable parameters ({@link ModelView#otherParameters()}, flattened and
 * concatenated in spec order): [N, otherColumns]. Row-major float32, owned by the receiver.
 */
public record LayerInputs(int rows, float[][] inputs, float[][] cotangents, float[] others,
    int otherColumns) {}
