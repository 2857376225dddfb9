package dev.lethe.bench;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.CodedOutputStream;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.onnx.OnnxBuilder;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * An ONNX MLP with a large frozen body and a small erasable head, written to a file as it is
 * generated (the writer holds one row of weights, never the model): {@code x [N, D]} → MatMul
 * {@code F0 [D, H]} → Relu → ({@code layers} − 1) × (MatMul {@code Fi [H, H]} → Relu) → MatMul
 * {@code W [H, C]} → Add {@code b [C]} → {@code logits [N, C]}. The erasable parameters are
 * {@code W} and {@code b}; the frozen F are what makes the file large ({@code 4 H²} bytes each).
 * Weights are seeded normal values scaled by 1/√fan-in. Used by {@code lethe bench upload} and
 * its process test.
 *
 * <p>Stateless; thread-safe.
 */
public final class FrozenMlp {
  public static final String INPUT = dev.lethe.train.Mlp.INPUT;
  public static final String LOGITS = "logits";
  public static final List<String> ERASABLE = List.of("W", "b");

  private FrozenMlp() {}

  /** The spec registering it: softmax cross-entropy on the logits, W and b erasable. */
  public static ModelConfig spec(String name, long trainSize, int blockSize) {
    return new ModelConfig(name, LossFunction.SOFTMAX_CROSS_ENTROPY, LOGITS, ERASABLE, trainSize,
        0, 0, 0, blockSize, 0);
  }

  /** Frozen layers of H × H (after the first D × H) making a file of about {@code bytes}. */
  public static int layersFor(long bytes, int hidden) {
    return (int) Math.max(1, Math.round(bytes / (4.0 * hidden * hidden)));
  }

  /** Writes the model to {@code file}; returns its size in bytes. */
  public static long write(Path file, int inputs, int hidden, int layers, int classes, long seed)
      throws IOException {
    OnnxBuilder b = new OnnxBuilder("frozen_mlp").opset(17).floatInput(INPUT, -1, inputs);
    String h = INPUT;
    for (int l = 0; l < layers; l++) {
      b.node("MatMul", "m" + l, h, "F" + l);
      b.node("Relu", "h" + l, "m" + l);
      h = "h" + l;
    }
    Random random = new Random(seed);
    b.initializer("W", normal(random, hidden * classes, 1 / Math.sqrt(hidden)), hidden, classes);
    b.initializer("b", new float[classes], classes);
    b.node("MatMul", "z", h, "W").node("Add", LOGITS, "z", "b").floatOutput(LOGITS, -1, classes);
    OnnxMl.ModelProto small = b.build();
    byte[] graph = small.getGraph().toByteArray();
    long[][] dims = new long[layers][];
    long body = graph.length;
    for (int l = 0; l < layers; l++) {
      dims[l] = new long[] {l == 0 ? inputs : hidden, hidden};
      body += fieldSize(tensorSize(l, dims[l]));
    }
    try (OutputStream file0 = new java.io.BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
      CodedOutputStream out = CodedOutputStream.newInstance(file0, 1 << 16);
      small.toBuilder().clearGraph().build().writeTo(out);
      out.writeTag(7, 2); // ModelProto.graph
      out.writeUInt64NoTag(body);
      out.writeRawBytes(graph);
      for (int l = 0; l < layers; l++) {
        out.writeTag(5, 2); // GraphProto.initializer
        out.writeUInt64NoTag(tensorSize(l, dims[l]));
        writeTensor(out, l, dims[l], random);
      }
      out.flush();
    }
    return Files.size(file);
  }

  private static long payload(long[] dims) {
    return 4 * dims[0] * dims[1];
  }

  private static long tensorSize(int l, long[] dims) {
    long n = 0;
    for (long d : dims) {
      n += 1 + CodedOutputStream.computeInt64SizeNoTag(d);
    }
    n += CodedOutputStream.computeInt32Size(2, OnnxMl.TensorProto.DataType.FLOAT_VALUE);
    n += CodedOutputStream.computeStringSize(8, "F" + l);
    return n + 1 + CodedOutputStream.computeUInt64SizeNoTag(payload(dims)) + payload(dims);
  }

  private static long fieldSize(long messageSize) {
    return 1 + CodedOutputStream.computeUInt64SizeNoTag(messageSize) + messageSize;
  }

  private static void writeTensor(CodedOutputStream out, int l, long[] dims, Random random)
      throws IOException {
    for (long d : dims) {
      out.writeInt64(1, d);
    }
    out.writeInt32(2, OnnxMl.TensorProto.DataType.FLOAT_VALUE);
    out.writeString(8, "F" + l);
    out.writeTag(9, 2); // raw_data
    out.writeUInt64NoTag(payload(dims));
    ByteBuffer row = ByteBuffer.allocate((int) dims[1] * 4).order(ByteOrder.LITTLE_ENDIAN);
    double scale = Math.sqrt(2.0 / dims[0]);
    for (long r = 0; r < dims[0]; r++) {
      row.clear();
      for (long c = 0; c < dims[1]; c++) {
        row.putFloat((float) (scale * random.nextGaussian()));
      }
      out.writeRawBytes(row.array());
    }
  }

  private static float[] normal(Random random, int n, double scale) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (scale * random.nextGaussian());
    }
    return v;
  }
}
