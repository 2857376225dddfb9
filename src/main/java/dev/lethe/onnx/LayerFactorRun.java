package dev.lethe.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lethe.core.LetheException;
import dev.lethe.core.MemoryPool;
import dev.lethe.core.Samples;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One {@link GradientEngine#factors} call: the {@link GradientGraph.Seed#FACTORS} session run in
 * chunks of as many samples as the engine's chunk bytes hold (RUN_BLOCKS blocks of the layers'
 * inputs, cotangents and the other parameters' gradients, reserved from its gradient pool),
 * copied into the caller's arrays. Stateless; called under the engine's read lock.
 */
final class LayerFactorRun {
  private LayerFactorRun() {}

  /** As {@link GradientEngine#factors}: checks the cotangents, runs at the batch's sizes. */
  static LayerFactors run(GradientEngine engine, Samples batch, List<FloatBuffer> params,
      float[] cotangent) {
    int n = batch.size();
    int c = (int) engine.graph.classes();
    if (cotangent == null || cotangent.length != (long) n * c) {
      throw LetheException.invalid("cotangent", "expected " + n + " x " + c + " values");
    }
    SampleValidator.checkFinite("cotangent", cotangent);
    SymbolicDims symbolic = engine.graph.symbolic();
    GradientSessions specialised = engine.sessions.acquire(symbolic.isEmpty() ? List.of() : symbolic.sizesOf(batch));
    try {
      return run(engine, specialised, batch, params, cotangent);
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime failed computing layer factors: " + e.getMessage(), e);
    } finally {
      specialised.release();
    }
  }

  private static LayerFactors run(GradientEngine engine, GradientSessions specialised, Samples batch,
      List<FloatBuffer> params, float[] cotangent) throws OrtException {
    int[] paramSizes = engine.paramSizes;
    OrtEnvironment env = engine.env;
    GradientGraph g = specialised.graph();
    List<DenseLayer> layers = g.layers();
    int[] others = g.otherParameters();
    int otherColumns = 0;
    for (int i : others) {
      otherColumns += paramSizes[i];
    }
    long perSample = otherColumns;
    for (DenseLayer l : layers) {
      perSample += (long) (l.in() + l.out()) * l.positions();
    }
    int n = batch.size();
    int c = (int) g.classes();
    int rows = g.perSample() ? 1 : (int) Math.max(1, Math.min(n, engine.chunkBytes / (4 * perSample * GradientEngine.RUN_BLOCKS)));
    float[][] inputs = new float[layers.size()][];
    float[][] deltas = new float[layers.size()][];
    for (int i = 0; i < layers.size(); i++) {
      inputs[i] = new float[n * layers.get(i).in() * layers.get(i).positions()];
      deltas[i] = new float[n * layers.get(i).out() * layers.get(i).positions()];
    }
    float[] other = new float[n * otherColumns];
    OrtSession session = specialised.factorsSession();
    List<OnnxTensor> paramTensors = new ArrayList<>();
    try (MemoryPool.Reservation held = engine.pool.reserve(GradientEngine.RUN_BLOCKS * perSample * rows * Float.BYTES, "samples",
        "layer factors of " + rows + " samples", GradientEngine.WAIT_MILLIS)) {
      engine.feedParams(params, paramTensors);
      for (int start = 0; start < n; start += rows) {
        int len = Math.min(rows, n - start);
        Map<String, OnnxTensor> feeds = new HashMap<>();
        try {
          for (int i = 0; i < params.size(); i++) {
            feeds.put(g.parameters().get(i), paramTensors.get(i));
          }
          for (GradientGraph.Input in : g.inputs()) {
            feeds.put(in.name(), engine.slice(batch.inputs().get(in.name()), start, len));
          }
          feeds.put(GradientGraph.COTANGENT,
              OnnxTensor.createTensor(env, FloatBuffer.wrap(cotangent, start * c, len * c), new long[] {len, c}));
          Set<String> wanted = new java.util.HashSet<>();
          for (int i = 0; i < layers.size(); i++) {
            wanted.add(GradientGraph.LAYER_INPUT_PREFIX + i);
            wanted.add(GradientGraph.LAYER_COTANGENT_PREFIX + i);
          }
          for (int i : others) {
            wanted.add(GradientGraph.GRAD_PREFIX + i);
          }
          try (OrtSession.Result r = session.run(feeds, wanted)) {
            for (int i = 0; i < layers.size(); i++) {
              DenseLayer l = layers.get(i);
              int a = l.in() * l.positions();
              int d = l.out() * l.positions();
              GradientEngine.floats(r, GradientGraph.LAYER_INPUT_PREFIX + i).get(inputs[i], start * a, len * a);
              GradientEngine.floats(r, GradientGraph.LAYER_COTANGENT_PREFIX + i).get(deltas[i], start * d, len * d);
            }
            int offset = 0;
            for (int i : others) {
              int size = paramSizes[i];
              FloatBuffer b = GradientEngine.floats(r, GradientGraph.GRAD_PREFIX + i);
              for (int s = 0; s < len; s++) {
                b.get(s * size, other, (start + s) * otherColumns + offset, size);
              }
              offset += size;
            }
          }
        } finally {
          for (Map.Entry<String, OnnxTensor> e : feeds.entrySet()) {
            if (!g.parameters().contains(e.getKey())) {
              e.getValue().close();
            }
          }
        }
      }
    } finally {
      paramTensors.forEach(OnnxTensor::close);
    }
    return new LayerFactors(n, inputs, deltas, other, otherColumns);
  }
}
