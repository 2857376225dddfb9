package dev.lethe.experiment;

import ai.onnx.proto.OnnxMl;
import dev.lethe.grpc.LetheClient;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Reads a served version's erasable weights back out of the ONNX file GetModel streams. */
final class OnnxWeights {
  private OnnxWeights() {}

  /**
   * The initializers {@code names} of {@code version}, flattened in that order (row-major within
   * each), as Lethe flattens erasable parameters.
   */
  static double[] fetch(LetheClient client, String model, long version, List<String> names)
      throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    client.getModel(model, version, out);
    OnnxMl.GraphProto graph = OnnxMl.ModelProto.parseFrom(out.toByteArray()).getGraph();
    Map<String, OnnxMl.TensorProto> byName = new HashMap<>();
    for (OnnxMl.TensorProto t : graph.getInitializerList()) {
      byName.put(t.getName(), t);
    }
    int total = 0;
    for (String n : names) {
      total += count(require(byName, n));
    }
    double[] theta = new double[total];
    int at = 0;
    for (String n : names) {
      OnnxMl.TensorProto t = byName.get(n);
      int c = count(t);
      if (t.getFloatDataCount() > 0) {
        for (int i = 0; i < c; i++) {
          theta[at + i] = t.getFloatData(i);
        }
      } else {
        ByteBuffer raw = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < c; i++) {
          theta[at + i] = raw.getFloat();
        }
      }
      at += c;
    }
    return theta;
  }

  private static OnnxMl.TensorProto require(Map<String, OnnxMl.TensorProto> byName, String n)
      throws IOException {
    OnnxMl.TensorProto t = byName.get(n);
    if (t == null || t.getDataType() != OnnxMl.TensorProto.DataType.FLOAT_VALUE) {
      throw new IOException("the served model has no float initializer " + n);
    }
    return t;
  }

  private static int count(OnnxMl.TensorProto t) {
    long c = 1;
    for (long d : t.getDimsList()) {
      c *= d;
    }
    return Math.toIntExact(c);
  }
}
