package dev.lethe.torch;

import ai.onnx.proto.OnnxMl;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.Samples;
import dev.lethe.onnx.TorchFixtures;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The TorchScript fixtures of test resources {@code torchscript/} (written by
 * make_torchscript_fixtures.py with Debian's python3-torch; CI only reads them): a family's
 * {@code .pt} archive, its reference {@code .ref.pb} (state_dict entries, samples, float64
 * logits, losses and per-sample gradients keyed by state_dict name, no L2 term), and its ONNX
 * export with a reference in {@link TorchFixtures}' format.
 */
public final class TorchScriptFixtures {
  /** The four model families, each saved as TorchScript and exported to ONNX. */
  public static final List<String> FAMILIES = List.of("mlp", "cnn_bn", "gru", "transformer");

  private TorchScriptFixtures() {}

  /** One state_dict entry as the script wrote it: ONNX TensorProto data type, dims, raw LE bytes. */
  public record StateEntry(String name, TorchTensor.Kind kind, int dataType, long[] dims, byte[] raw) {
    public float[] floats() {
      float[] v = new float[raw.length / 4];
      ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
      return v;
    }
  }

  /**
   * A family's reference: state entries in state_dict order, the samples, float64 logits [N, C]
   * and losses [N], and per-sample gradients [N] + shape by state_dict parameter name
   * (named_parameters order).
   */
  public record Reference(List<StateEntry> state, Samples samples, double[] logits, double[] losses,
      Map<String, double[]> gradients) {}

  public static Path path(String file) {
    URL url = TorchScriptFixtures.class.getResource("/torchscript/" + file);
    if (url == null) {
      throw new IllegalArgumentException("no fixture " + file);
    }
    try {
      return Path.of(url.toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  public static byte[] bytes(String file) {
    try (InputStream in = TorchScriptFixtures.class.getResourceAsStream("/torchscript/" + file)) {
      if (in == null) {
        throw new IllegalArgumentException("no fixture " + file);
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The reference beside {@code <name>.pt} ({@code <name>.ref.pb}). */
  public static Reference reference(String name) {
    OnnxMl.GraphProto g = graph(name + ".ref.pb");
    List<StateEntry> state = new ArrayList<>();
    Map<String, DenseTensor> inputs = new LinkedHashMap<>();
    Map<String, double[]> grads = new LinkedHashMap<>();
    DenseTensor labels = null;
    double[] logits = null;
    double[] losses = null;
    for (OnnxMl.TensorProto t : g.getInitializerList()) {
      long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
      String n = t.getName();
      byte[] raw = t.getRawData().toByteArray();
      if (n.startsWith("param:") || n.startsWith("buffer:")) {
        boolean param = n.startsWith("param:");
        state.add(new StateEntry(n.substring(n.indexOf(':') + 1),
            param ? TorchTensor.Kind.PARAMETER : TorchTensor.Kind.BUFFER, t.getDataType(), dims, raw));
      } else if (n.startsWith("input:")) {
        inputs.put(n.substring(6), t.getDataType() == OnnxMl.TensorProto.DataType.FLOAT_VALUE
            ? DenseTensor.ofFloats(dims, floats(raw)) : DenseTensor.ofLongs(dims, longs(raw)));
      } else if (n.equals("labels")) {
        labels = DenseTensor.ofLongs(dims, longs(raw));
      } else if (n.equals("logits")) {
        logits = doubles(raw);
      } else if (n.equals("losses")) {
        losses = doubles(raw);
      } else if (n.startsWith("grad:")) {
        grads.put(n.substring(5), doubles(raw));
      }
    }
    return new Reference(state, new Samples(List.of(), inputs, labels), logits, losses, grads);
  }

  /** The reference of {@code <family>.onnx} in {@link TorchFixtures}' format (ONNX initializer names). */
  public static TorchFixtures.Reference onnxReference(String family) {
    OnnxMl.GraphProto g = graph(family + ".onnx.ref.pb");
    Map<String, DenseTensor> inputs = new LinkedHashMap<>();
    Map<String, float[]> grads = new LinkedHashMap<>();
    DenseTensor labels = null;
    float[] losses = null;
    for (OnnxMl.TensorProto t : g.getInitializerList()) {
      long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
      byte[] raw = t.getRawData().toByteArray();
      String n = t.getName();
      if (n.startsWith("input:")) {
        inputs.put(n.substring(6), t.getDataType() == OnnxMl.TensorProto.DataType.FLOAT_VALUE
            ? DenseTensor.ofFloats(dims, floats(raw)) : DenseTensor.ofLongs(dims, longs(raw)));
      } else if (n.equals("labels")) {
        labels = DenseTensor.ofLongs(dims, longs(raw));
      } else if (n.equals("losses")) {
        losses = floats(raw);
      } else if (n.startsWith("grad:")) {
        grads.put(n.substring(5), floats(raw));
      }
    }
    return new TorchFixtures.Reference(new Samples(List.of(), inputs, labels), losses, grads);
  }

  public static OnnxMl.ModelProto onnxModel(String family) {
    try {
      return OnnxMl.ModelProto.parseFrom(bytes(family + ".onnx"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static OnnxMl.GraphProto graph(String file) {
    try {
      return OnnxMl.GraphProto.parseFrom(bytes(file));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static float[] floats(byte[] raw) {
    float[] v = new float[raw.length / 4];
    ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
    return v;
  }

  static long[] longs(byte[] raw) {
    long[] v = new long[raw.length / 8];
    ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(v);
    return v;
  }

  static double[] doubles(byte[] raw) {
    double[] v = new double[raw.length / 8];
    ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer().get(v);
    return v;
  }
}
