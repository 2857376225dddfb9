package dev.lethe.onnx;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Learns the element type, shape and (for small int64 tensors) the value of every node output
 * of a model by running it once through ONNX Runtime with synthetic inputs at a given batch size.
 * This covers any op ORT runs (frozen prefixes included) without a shape inference of our own.
 */
final class ShapeProbe {
  /** What one run showed of one value. */
  record Probed(int elemType, long[] dims, long[] longs) {}

  private static final int MAX_CONSTANT = 64;

  private ShapeProbe() {}

  /**
   * @param model forward model (not modified); value_info and outputs are replaced in a copy
   * @param dataInputs graph inputs that are fed (FLOAT or INT64; a symbolic dim after the batch is
   *     fed at {@link SymbolicDims#PROBE_SIZE})
   * @param batch the batch size to feed on axis 0
   * @return node output name to what the run showed (non-tensor outputs are left out)
   */
  static Map<String, Probed> run(OnnxMl.ModelProto model, List<OnnxMl.ValueInfoProto> dataInputs, int batch)
      throws OrtException {
    OnnxMl.GraphProto.Builder g = model.getGraph().toBuilder().clearOutput().clearValueInfo();
    Set<String> outs = new LinkedHashSet<>();
    for (OnnxMl.NodeProto n : model.getGraph().getNodeList()) {
      for (String o : n.getOutputList()) {
        if (!o.isEmpty()) {
          outs.add(o);
        }
      }
    }
    for (String o : outs) {
      g.addOutput(OnnxMl.ValueInfoProto.newBuilder().setName(o));
    }
    OnnxMl.ModelProto probe = model.toBuilder().setGraph(g).build();
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    Random rnd = new Random(17);
    Map<String, OnnxTensor> feeds = new HashMap<>();
    try {
      try (OrtSession session = OrtSessions.create(env, probe, 1)) {
        for (OnnxMl.ValueInfoProto in : dataInputs) {
          feeds.put(in.getName(), syntheticInput(env, in, batch, rnd));
        }
        Map<String, Probed> result = new HashMap<>();
        try (OrtSession.Result r = session.run(feeds)) {
          for (Map.Entry<String, OnnxValue> e : r) {
            if (e.getValue() instanceof OnnxTensor t) {
              TensorInfo info = t.getInfo();
              long[] longs = null;
              if (info.onnxType == TensorInfo.OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64
                  && info.getNumElements() <= MAX_CONSTANT) {
                LongBuffer lb = t.getLongBuffer();
                longs = new long[lb.remaining()];
                lb.get(longs);
              }
              result.put(e.getKey(), new Probed(onnxType(info.onnxType), info.getShape(), longs));
            }
          }
        }
        return result;
      }
    } finally {
      for (OnnxTensor t : feeds.values()) {
        t.close();
      }
    }
  }

  /** ORT's Java enum numbers types differently from ONNX; map by name. */
  private static int onnxType(TensorInfo.OnnxTensorType t) {
    String name = t.name().substring("ONNX_TENSOR_ELEMENT_DATA_TYPE_".length());
    try {
      return OnnxMl.TensorProto.DataType.valueOf(name).getNumber();
    } catch (IllegalArgumentException e) {
      return 0;
    }
  }

  private static OnnxTensor syntheticInput(OrtEnvironment env, OnnxMl.ValueInfoProto in, int batch, Random rnd)
      throws OrtException {
    List<OnnxMl.TensorShapeProto.Dimension> dl = in.getType().getTensorType().getShape().getDimList();
    long[] dims = new long[dl.size()];
    long count = 1;
    for (int i = 0; i < dims.length; i++) {
      OnnxMl.TensorShapeProto.Dimension d = dl.get(i);
      // a symbolic dim after the batch (GradientGraph specialises those away first) at the probe size
      dims[i] = i == 0 ? batch : d.hasDimValue() && d.getDimValue() > 0 ? d.getDimValue() : SymbolicDims.PROBE_SIZE;
      count *= dims[i];
    }
    int type = in.getType().getTensorType().getElemType();
    if (type == OnnxMl.TensorProto.DataType.FLOAT_VALUE) {
      float[] v = new float[(int) count];
      for (int i = 0; i < v.length; i++) {
        v[i] = 0.1f + 0.9f * rnd.nextFloat();
      }
      return OnnxTensor.createTensor(env, FloatBuffer.wrap(v), dims);
    }
    return OnnxTensor.createTensor(env, LongBuffer.wrap(new long[(int) count]), dims);
  }
}
