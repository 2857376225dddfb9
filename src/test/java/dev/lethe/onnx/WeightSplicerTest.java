package dev.lethe.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import dev.lethe.core.LetheException;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

class WeightSplicerTest {
  /** A model with W in raw_data and b in packed float_data, plus a non-erasable initializer. */
  private static byte[] mixedEncodings() {
    OnnxMl.ModelProto base = new OnnxBuilder("g")
        .floatInput("x", -1, 2)
        .initializer("W", new float[] {1, 2, 3, 4, 5, 6}, 3, 2)
        .initializer("keep", new float[] {7, 8, 9}, 3)
        .node("Gemm", new String[] {"x", "W", "b"}, new String[] {"h"}, "transB", 1L)
        .node("Add", "y", "h", "keep")
        .floatOutput("y", -1, 3)
        .build();
    OnnxMl.TensorProto b = OnnxMl.TensorProto.newBuilder().setName("b")
        .setDataType(OnnxMl.TensorProto.DataType.FLOAT_VALUE).addDims(3)
        .addFloatData(0.5f).addFloatData(-1.5f).addFloatData(2.5f).build();
    return base.toBuilder().setGraph(base.getGraph().toBuilder().addInitializer(0, b)).build()
        .toByteArray();
  }

  private static byte[] compose(WeightSplicer.Split s, byte[] weights) throws Exception {
    ByteBuffer w = ByteBuffer.wrap(weights).order(ByteOrder.LITTLE_ENDIAN);
    try (InputStream in = WeightSplicer.compose(new ByteArrayInputStream(s.skeleton()),
        s.spliceOffsets(), s.spliceParameters(), w, s.parameterOffsets())) {
      return in.readAllBytes();
    }
  }

  @Test
  void rawAndPackedFloatPayloadsRoundTripAndSwap() throws Exception {
    byte[] file = mixedEncodings();
    WeightSplicer.Split s = WeightSplicer.split(file, List.of("W", "b"), new long[] {6, 3});
    assertEquals(file.length - 36, s.skeleton().length);
    assertArrayEquals(file, compose(s, s.weights()));
    float[] values = new float[9];
    ByteBuffer.wrap(s.weights()).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
    assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 0.5f, -1.5f, 2.5f}, values);

    ByteBuffer other = ByteBuffer.allocate(36).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 9; i++) {
      other.putFloat(-i);
    }
    OnnxMl.ModelProto swapped = OnnxMl.ModelProto.parseFrom(compose(s, other.array()));
    OnnxMl.TensorProto w = swapped.getGraph().getInitializerList().stream()
        .filter(t -> t.getName().equals("W")).findFirst().orElseThrow();
    OnnxMl.TensorProto b = swapped.getGraph().getInitializer(0);
    assertEquals(-4f, ByteBuffer.wrap(w.getRawData().toByteArray()).order(ByteOrder.LITTLE_ENDIAN)
        .getFloat(16));
    assertEquals(List.of(-6f, -7f, -8f), b.getFloatDataList());
    OnnxMl.TensorProto keep = swapped.getGraph().getInitializerList().stream()
        .filter(t -> t.getName().equals("keep")).findFirst().orElseThrow();
    assertEquals(8f, ByteBuffer.wrap(keep.getRawData().toByteArray()).order(ByteOrder.LITTLE_ENDIAN)
        .getFloat(4));
  }

  @Test
  void externalDataAndWrongLengthsAreRefused() {
    OnnxMl.ModelProto base = new OnnxBuilder("g").floatInput("x", -1, 2)
        .node("Identity", "y", "x").floatOutput("y", -1, 2).build();
    OnnxMl.TensorProto external = OnnxMl.TensorProto.newBuilder().setName("E")
        .setDataType(OnnxMl.TensorProto.DataType.FLOAT_VALUE).addDims(2)
        .setDataLocation(OnnxMl.TensorProto.DataLocation.EXTERNAL).build();
    byte[] file = base.toBuilder().setGraph(base.getGraph().toBuilder().addInitializer(external))
        .build().toByteArray();
    LetheException e = assertThrows(LetheException.class,
        () -> WeightSplicer.split(file, List.of("E"), new long[] {2}));
    assertTrue(e.getMessage().contains("external data"), e.getMessage());
    byte[] mixed = mixedEncodings();
    e = assertThrows(LetheException.class,
        () -> WeightSplicer.split(mixed, List.of("W"), new long[] {5}));
    assertTrue(e.getMessage().startsWith("spec.erasable_parameters"), e.getMessage());
  }

  @Test
  void truncatedFileIsMalformed() {
    byte[] file = mixedEncodings();
    byte[] cut = java.util.Arrays.copyOf(file, file.length - 10);
    LetheException e = assertThrows(LetheException.class,
        () -> WeightSplicer.split(cut, List.of("W"), new long[] {6}));
    assertEquals(LetheException.Kind.INVALID_ARGUMENT, e.kind());
  }
}
