package dev.lethe.onnx;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Small fluent builder for ONNX models (opset 17 by default), used for the demo model and for
 * test fixtures. Not thread-safe; build once.
 */
public final class OnnxBuilder {
  private final OnnxMl.GraphProto.Builder graph = OnnxMl.GraphProto.newBuilder();
  private long opset = 17;
  private int autoName;

  public OnnxBuilder(String graphName) {
    graph.setName(graphName);
  }

  public OnnxBuilder opset(long version) {
    this.opset = version;
    return this;
  }

  /** A graph input of FLOAT elements; a negative dim becomes the symbolic dim "N". */
  public OnnxBuilder floatInput(String name, long... dims) {
    graph.addInput(valueInfo(name, OnnxMl.TensorProto.DataType.FLOAT_VALUE, dims));
    return this;
  }

  /** A graph input of INT64 elements (token ids); a negative dim becomes "N". */
  public OnnxBuilder int64Input(String name, long... dims) {
    graph.addInput(valueInfo(name, OnnxMl.TensorProto.DataType.INT64_VALUE, dims));
    return this;
  }

  public OnnxBuilder floatOutput(String name, long... dims) {
    graph.addOutput(valueInfo(name, OnnxMl.TensorProto.DataType.FLOAT_VALUE, dims));
    return this;
  }

  /** A FLOAT initializer stored as little-endian raw_data (what exporters write). */
  public OnnxBuilder initializer(String name, float[] values, long... dims) {
    graph.addInitializer(floatTensor(name, values, dims));
    return this;
  }

  /** An INT64 initializer (shapes, axes). */
  public OnnxBuilder int64Initializer(String name, long[] values, long... dims) {
    OnnxMl.TensorProto.Builder t =
        OnnxMl.TensorProto.newBuilder()
            .setName(name)
            .setDataType(OnnxMl.TensorProto.DataType.INT64_VALUE);
    for (long d : dims) {
      t.addDims(d);
    }
    for (long v : values) {
      t.addInt64Data(v);
    }
    graph.addInitializer(t);
    return this;
  }

  /** Adds a node; attributes are given as (name, value) pairs: Long, Double/Float, long[], float[], String. */
  public OnnxBuilder node(String opType, String[] inputs, String[] outputs, Object... attributes) {
    OnnxMl.NodeProto.Builder n =
        OnnxMl.NodeProto.newBuilder().setOpType(opType).setName(opType + "_" + autoName++);
    for (String in : inputs) {
      n.addInput(in);
    }
    for (String out : outputs) {
      n.addOutput(out);
    }
    if (attributes.length % 2 != 0) {
      throw new IllegalArgumentException("attributes come in (name, value) pairs");
    }
    for (int i = 0; i < attributes.length; i += 2) {
      n.addAttribute(attribute((String) attributes[i], attributes[i + 1]));
    }
    graph.addNode(n);
    return this;
  }

  /** Shorthand for a single-output node. */
  public OnnxBuilder node(String opType, String output, String... inputs) {
    return node(opType, inputs, new String[] {output});
  }

  public OnnxMl.ModelProto build() {
    return OnnxMl.ModelProto.newBuilder()
        .setIrVersion(8)
        .setProducerName("lethe")
        .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
        .setGraph(graph)
        .build();
  }

  public byte[] toBytes() {
    return build().toByteArray();
  }

  public static OnnxMl.TensorProto floatTensor(String name, float[] values, long... dims) {
    ByteBuffer raw = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    raw.asFloatBuffer().put(values);
    OnnxMl.TensorProto.Builder t =
        OnnxMl.TensorProto.newBuilder()
            .setName(name)
            .setDataType(OnnxMl.TensorProto.DataType.FLOAT_VALUE)
            .setRawData(ByteString.copyFrom(raw.array()));
    for (long d : dims) {
      t.addDims(d);
    }
    return t.build();
  }

  /** A tensor value's declaration; a negative dim becomes the symbolic dim "N" (the batch). */
  static OnnxMl.ValueInfoProto valueInfo(String name, int elemType, long[] dims) {
    OnnxMl.TensorShapeProto.Builder shape = OnnxMl.TensorShapeProto.newBuilder();
    for (long d : dims) {
      OnnxMl.TensorShapeProto.Dimension.Builder dim = OnnxMl.TensorShapeProto.Dimension.newBuilder();
      if (d < 0) {
        dim.setDimParam("N");
      } else {
        dim.setDimValue(d);
      }
      shape.addDim(dim);
    }
    return OnnxMl.ValueInfoProto.newBuilder()
        .setName(name)
        .setType(
            OnnxMl.TypeProto.newBuilder()
                .setTensorType(
                    OnnxMl.TypeProto.Tensor.newBuilder().setElemType(elemType).setShape(shape)))
        .build();
  }

  /** An attribute from a Java value: Long/Integer, Double/Float, long[], float[], String, TensorProto. */
  public static OnnxMl.AttributeProto attribute(String name, Object value) {
    OnnxMl.AttributeProto.Builder a = OnnxMl.AttributeProto.newBuilder().setName(name);
    if (value instanceof Long || value instanceof Integer) {
      a.setType(OnnxMl.AttributeProto.AttributeType.INT).setI(((Number) value).longValue());
    } else if (value instanceof Double || value instanceof Float) {
      a.setType(OnnxMl.AttributeProto.AttributeType.FLOAT).setF(((Number) value).floatValue());
    } else if (value instanceof long[] ints) {
      a.setType(OnnxMl.AttributeProto.AttributeType.INTS);
      for (long v : ints) {
        a.addInts(v);
      }
    } else if (value instanceof float[] floats) {
      a.setType(OnnxMl.AttributeProto.AttributeType.FLOATS);
      for (float v : floats) {
        a.addFloats(v);
      }
    } else if (value instanceof String s) {
      a.setType(OnnxMl.AttributeProto.AttributeType.STRING).setS(ByteString.copyFromUtf8(s));
    } else if (value instanceof OnnxMl.TensorProto t) {
      a.setType(OnnxMl.AttributeProto.AttributeType.TENSOR).setT(t);
    } else {
      throw new IllegalArgumentException("unsupported attribute value for " + name + ": " + value);
    }
    return a.build();
  }
}
