package dev.lethe.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.ByteString;
import dev.lethe.core.DenseTensor;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A composed version loads in PyTorch: {@code torch.jit.load} of the file Lethe wrote gives a
 * state_dict equal bit for bit to the new values (and the original ones elsewhere), Python's
 * zipfile finds every CRC valid, and the module runs. Needs Debian's {@code /usr/bin/python3}
 * with torch ({@code check_composed.py}); skipped where it is missing (CI), so
 * {@link TorchArchiveTest}'s assertions never depend on it.
 */
class TorchLoadCheckTest {
  static final Path PYTHON = Path.of("/usr/bin/python3");

  @BeforeAll
  static void needsTorch() throws Exception {
    boolean ok = false;
    if (Files.isExecutable(PYTHON)) {
      Process p = new ProcessBuilder(PYTHON.toString(), "-c", "import torch, onnx").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      ok = p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0;
    }
    Assumptions.assumeTrue(ok, "/usr/bin/python3 with torch and onnx is not installed");
  }

  static Stream<String> archives() {
    return Stream.concat(TorchScriptFixtures.FAMILIES.stream(), Stream.of("tied", "shared_view", "nested"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("archives")
  void composedVersionLoadsInTorchWithTheNewValues(String name, @TempDir Path dir) throws Exception {
    TorchArchive a = TorchArchive.read(TorchScriptFixtures.path(name + ".pt"));
    List<String> names = new ArrayList<>();
    // all parameters but the first, so one stays as uploaded
    a.parameters().stream().skip(a.parameters().size() > 1 ? 1 : 0).forEach(t -> names.add(t.name()));
    float[] values = TorchArchiveTest.changed(a, names, 7);
    Path composed = dir.resolve(name + "_v2.pt");
    try (OutputStream out = Files.newOutputStream(composed)) {
      a.compose(names, values).writeTo(out);
    }
    TorchArchive b = TorchArchive.read(composed);
    assertArrayEquals(TorchArchiveTest.VersionBytes.of(values), b.weights(names));

    // what torch must see: the new values for the replaced tensors (tied names too), else the upload's
    Map<String, byte[]> replaced = new java.util.HashMap<>();
    byte[] all = TorchArchiveTest.VersionBytes.of(values);
    int at = 0;
    for (String n : names) {
      int len = (int) a.tensor(n).orElseThrow().elementCount() * 4;
      replaced.put(n, java.util.Arrays.copyOfRange(all, at, at + len));
      at += len;
    }
    OnnxMl.GraphProto.Builder expected = OnnxMl.GraphProto.newBuilder().setName(name + "_expected");
    for (TorchTensor t : a.tensors()) {
      byte[] raw = replaced.getOrDefault(t.aliasOf() == null ? t.name() : t.aliasOf(), a.rawValues(t.name()));
      expected.addInitializer(tensor((t.isParameter() ? "param:" : "buffer:") + t.name(), t, raw));
    }
    if (TorchScriptFixtures.FAMILIES.contains(name)) {
      for (Map.Entry<String, DenseTensor> in : TorchScriptFixtures.reference(name).samples().inputs().entrySet()) {
        expected.addInitializer(input("input:" + in.getKey(), in.getValue()));
      }
    }
    Path pb = dir.resolve("expected.pb");
    Files.write(pb, expected.build().toByteArray());
    Path script = TorchScriptFixtures.path("check_composed.py");
    Process p = new ProcessBuilder(PYTHON.toString(), script.toString(), composed.toString(), pb.toString())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(300, TimeUnit.SECONDS), "check_composed.py timed out");
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.contains("ok " + b.tensors().size() + " tensors bit for bit"), out);
  }

  private static OnnxMl.TensorProto tensor(String name, TorchTensor t, byte[] raw) {
    int type = switch (t.dtype()) {
      case FLOAT32 -> OnnxMl.TensorProto.DataType.FLOAT_VALUE;
      case INT64 -> OnnxMl.TensorProto.DataType.INT64_VALUE;
      default -> throw new IllegalArgumentException("no fixture has " + t.dtype());
    };
    OnnxMl.TensorProto.Builder b = OnnxMl.TensorProto.newBuilder().setName(name).setDataType(type)
        .setRawData(ByteString.copyFrom(raw));
    for (long d : t.dims()) {
      b.addDims(d);
    }
    return b.build();
  }

  private static OnnxMl.TensorProto input(String name, DenseTensor v) throws IOException {
    boolean f = v.floats() != null;
    ByteBuffer buf = ByteBuffer.allocate(f ? v.floats().length * 4 : v.longs().length * 8).order(ByteOrder.LITTLE_ENDIAN);
    if (f) {
      buf.asFloatBuffer().put(v.floats());
    } else {
      buf.asLongBuffer().put(v.longs());
    }
    OnnxMl.TensorProto.Builder b = OnnxMl.TensorProto.newBuilder().setName(name)
        .setDataType(f ? OnnxMl.TensorProto.DataType.FLOAT_VALUE : OnnxMl.TensorProto.DataType.INT64_VALUE)
        .setRawData(ByteString.copyFrom(buf.array()));
    for (long d : v.dims()) {
      b.addDims(d);
    }
    return b.build();
  }
}
