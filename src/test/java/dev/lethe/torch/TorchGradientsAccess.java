package dev.lethe.torch;

import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/** Test access to DJL: a served file loaded on its own, its forward at its own weights. */
public final class TorchGradientsAccess {
  private TorchGradientsAccess() {}

  /**
   * Loads {@code file} in DJL, checks its parameters hold {@code expected} (named_parameters
   * order, concatenated) and returns the softmax cross-entropy losses of {@code labelled} at the
   * file's own weights.
   */
  public static double[] lossesOfFile(byte[] file, Samples labelled, float[] expected) {
    TorchModule m = TorchModule.load(file);
    List<FloatBuffer> own = new ArrayList<>();
    int off = 0;
    for (String n : m.parameterNames()) {
      float[] v = m.parameter(n).toFloatArray();
      for (int k = 0; k < v.length; k++) {
        if (Float.floatToIntBits(v[k]) != Float.floatToIntBits(expected[off + k])) {
          throw new AssertionError(n + "[" + k + "] is " + v[k] + " in DJL, " + expected[off + k] + " in the file");
        }
      }
      off += v.length;
      FloatBuffer b = ByteBuffer.allocateDirect(v.length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
      b.put(v).flip();
      own.add(b);
    }
    try (TorchGradients g = new TorchGradients(m, List.copyOf(labelled.inputs().keySet()),
        m.parameterNames(), "", LossFunction.SOFTMAX_CROSS_ENTROPY)) {
      float[] losses = g.compute(labelled, own, null, 0, false).losses();
      double[] out = new double[losses.length];
      for (int i = 0; i < out.length; i++) {
        out[i] = losses[i];
      }
      return out;
    }
  }
}
