package dev.lethe.experiment;

import dev.lethe.client.LetheClient;
import dev.lethe.onnx.WeightSplicer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;

/** Reads a served version's erasable weights back out of the ONNX file GetModel streams. */
final class OnnxWeights {
  private OnnxWeights() {}

  /**
   * The initializers {@code names} (of {@code sizes} elements each) of {@code version},
   * flattened in that order, as Lethe flattens erasable parameters; found by the same
   * {@link WeightSplicer} the store splits uploads with.
   */
  static double[] fetch(LetheClient client, String model, long version, List<String> names,
      long[] sizes) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    client.getModel(model, version, out);
    byte[] weights = WeightSplicer.split(out.toByteArray(), names, sizes).weights();
    FloatBuffer f = ByteBuffer.wrap(weights).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    double[] theta = new double[f.remaining()];
    for (int i = 0; i < theta.length; i++) {
      theta[i] = f.get(i);
    }
    return theta;
  }
}
