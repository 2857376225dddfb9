package dev.lethe.onnx;

import ai.onnx.proto.OnnxMl;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.Samples;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The PyTorch-export fixtures of test resources {@code onnx/torch} (written by
 * make_torch_fixtures.py with python3-torch; CI only reads them): a family's model at an opset,
 * and its reference (sample inputs, labels, losses, torch autograd's per-sample gradient of every
 * initializer that is a torch parameter).
 */
final class TorchFixtures {
  private TorchFixtures() {}

  /** A family's reference: the samples and, by ONNX initializer name, [N] + shape gradients. */
  record Reference(Samples samples, float[] losses, Map<String, float[]> gradients) {
    List<String> parameters() {
      return new ArrayList<>(gradients.keySet());
    }
  }

  static byte[] modelBytes(String family, int opset) {
    return resource(family + "_op" + opset + ".onnx");
  }

  static OnnxMl.ModelProto model(String family, int opset) {
    try {
      return OnnxMl.ModelProto.parseFrom(modelBytes(family, opset));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Reference reference(String family) {
    OnnxMl.GraphProto g;
    try {
      g = OnnxMl.GraphProto.parseFrom(resource(family + ".ref.pb"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Map<String, DenseTensor> inputs = new LinkedHashMap<>();
    Map<String, float[]> grads = new LinkedHashMap<>();
    DenseTensor labels = null;
    float[] losses = null;
    for (OnnxMl.TensorProto t : g.getInitializerList()) {
      long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
      String name = t.getName();
      if (name.startsWith("input:")) {
        inputs.put(name.substring(6), t.getDataType() == OnnxMl.TensorProto.DataType.FLOAT_VALUE
            ? DenseTensor.ofFloats(dims, GradCheck.floats(t)) : DenseTensor.ofLongs(dims, longs(t)));
      } else if (name.equals("labels")) {
        labels = DenseTensor.ofLongs(dims, longs(t));
      } else if (name.equals("losses")) {
        losses = GradCheck.floats(t);
      } else if (name.startsWith("grad:")) {
        grads.put(name.substring(5), GradCheck.floats(t));
      }
    }
    return new Reference(new Samples(List.of(), inputs, labels), losses, grads);
  }

  private static long[] longs(OnnxMl.TensorProto t) {
    if (t.getInt64DataCount() > 0) {
      return t.getInt64DataList().stream().mapToLong(Long::longValue).toArray();
    }
    LongBuffer b = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asLongBuffer();
    long[] v = new long[b.remaining()];
    b.get(v);
    return v;
  }

  private static byte[] resource(String name) {
    try (InputStream in = TorchFixtures.class.getResourceAsStream("/onnx/torch/" + name)) {
      if (in == null) {
        throw new IllegalArgumentException("no fixture " + name);
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
