package dev.lethe.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.LossFunction;
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
public final class TorchFixtures {
  public static final double REL_TOL = 1e-4;

  private TorchFixtures() {}

  /** A family's reference: the samples and, by ONNX initializer name, [N] + shape gradients. */
  public record Reference(Samples samples, float[] losses, Map<String, float[]> gradients) {
    public List<String> parameters() {
      return new ArrayList<>(gradients.keySet());
    }
  }

  public static byte[] modelBytes(String family, int opset) {
    return resource(family + "_op" + opset + ".onnx");
  }

  public static OnnxMl.ModelProto model(String family, int opset) {
    try {
      return OnnxMl.ModelProto.parseFrom(modelBytes(family, opset));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The reference of {@code family}'s export at {@code opset} (initializer names are the export's). */
  public static Reference reference(String family, int opset) {
    return reference(family, opset, "ref");
  }

  /**
   * A reference by key: "ref", or for the dynamic-length families "ref2", samples of another
   * sequence length.
   */
  public static Reference reference(String family, int opset, String key) {
    OnnxMl.GraphProto g;
    try {
      g = OnnxMl.GraphProto.parseFrom(resource(family + "_op" + opset + "." + key + ".pb"));
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

  /**
   * Builds the gradient graph over every reference parameter and compares Lethe's per-sample
   * losses and gradients with torch's: {@value #REL_TOL} relative per parameter tensor and sample.
   */
  public static void assertMatchesTorch(OnnxMl.ModelProto model, String logits, TorchFixtures.Reference ref) {
    assertMatchesTorch(model, logits, List.of(ref));
  }

  /**
   * As {@link #assertMatchesTorch(OnnxMl.ModelProto, String, Reference)} for several references
   * (sequence lengths) through one engine; returns the sizes of the symbolic dims it built.
   */
  public static List<List<Long>> assertMatchesTorch(OnnxMl.ModelProto model, String logits, List<Reference> refs) {
    List<String> params = refs.get(0).parameters();
    GradientGraph graph = GradientGraph.build(model, logits, LossFunction.SOFTMAX_CROSS_ENTROPY, params, 0);
    try (GradientEngine engine = new GradientEngine(graph)) {
      for (Reference ref : refs) {
        assertEquals(params, ref.parameters());
        assertMatches(params, ref, engine.compute(ref.samples(), GradCheck.direct(GradCheck.initialValues(model, params))));
      }
      return engine.sizesBuilt();
    }
  }

  private static void assertMatches(List<String> params, Reference ref, GradientResult r) {
    int n = ref.samples().size();
    for (int s = 0; s < n; s++) {
      assertEquals(ref.losses()[s], r.losses()[s], 1e-5 + 1e-5 * Math.abs(ref.losses()[s]), "loss of sample " + s);
    }
    long offset = 0;
    for (String p : params) {
      float[] want = ref.gradients().get(p);
      int size = want.length / n;
      for (int s = 0; s < n; s++) {
        double diff = 0;
        double norm = 0;
        for (int k = 0; k < size; k++) {
          double w = want[s * size + k];
          double got = r.gradients()[(int) (s * r.parameterCount() + offset + k)];
          diff += (w - got) * (w - got);
          norm += w * w;
        }
        double rel = Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-6);
        assertTrue(rel <= REL_TOL, p + " sample " + s + ": relative error " + rel + " (|g| = " + Math.sqrt(norm) + ")");
      }
      offset += size;
    }
  }
}
