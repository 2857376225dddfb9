package dev.lethe.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.EnumDescriptorProto;
import com.google.protobuf.DescriptorProtos.EnumValueDescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.Message;
import com.google.protobuf.TextFormat;
import dev.lethe.core.ModelFormat;
import dev.lethe.onnx.InputSpec;
import dev.lethe.torch.TorchArchive;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The export directory's two Triton layouts: ONNX exactly as before (file name and config text),
 * and TorchScript's {@code pytorch_libtorch} layout, whose config is parsed by protobuf's text
 * format against the fields of Triton's {@code ModelConfig} it uses.
 */
class ExportLayoutTest {
  @TempDir Path dir;

  /** The ONNX config.pbtxt as ExportDirectory wrote it before TorchScript existed. */
  static String onnxConfig(String model, long active) {
    return "# Written by Lethe: the active version of this model.\n"
        + "name: \"" + model + "\"\n"
        + "platform: \"onnxruntime_onnx\"\n"
        + "version_policy: { specific: { versions: [ " + active + " ] } }\n";
  }

  @Test
  void onnxLayoutIsUnchanged() throws Exception {
    assertEquals(onnxConfig("m", 3), ExportDirectory.config("m", 3));
    assertEquals(onnxConfig("m", 3), ExportLayout.onnx().config("m", 3));
    ExportDirectory export = new ExportDirectory(dir);
    byte[] file = {8, 7, 1, 2, 3};
    export.publish("m", 1, new ByteArrayInputStream(file), Set.of(1L));
    assertArrayEquals(file, Files.readAllBytes(dir.resolve("m/1/model.onnx")));
    assertEquals(onnxConfig("m", 1), Files.readString(dir.resolve("m/config.pbtxt")));
    export.publish("m", 2, new ByteArrayInputStream(file), Set.of(2L), ExportLayout.onnx());
    assertEquals(onnxConfig("m", 2), Files.readString(dir.resolve("m/config.pbtxt")));
    assertFalse(Files.exists(dir.resolve("m/1")), "version 1 is no longer kept");
    try (var files = Files.list(dir.resolve("m/2"))) {
      assertEquals(List.of("model.onnx"), files.map(p -> p.getFileName().toString()).toList());
    }
  }

  @Test
  void torchScriptLayoutIsTritonsLibtorchOne() throws Exception {
    ExportLayout layout = ExportLayout.torchScript(
        List.of(ExportLayout.Tensor.of(new InputSpec("tokens", false, new long[] {-1, 6})),
            new ExportLayout.Tensor(true, new long[] {-1, 2, 3})),
        List.of(new ExportLayout.Tensor(true, new long[] {-1, 3})));
    assertEquals(ModelFormat.TORCHSCRIPT, layout.format());
    String want = "# Written by Lethe: the active version of this model.\n"
        + "name: \"clf\"\n"
        + "platform: \"pytorch_libtorch\"\n"
        + "max_batch_size: 0\n"
        + "input [\n"
        + "  {\n"
        + "    name: \"INPUT__0\"\n"
        + "    data_type: TYPE_INT64\n"
        + "    dims: [ -1, 6 ]\n"
        + "  },\n"
        + "  {\n"
        + "    name: \"INPUT__1\"\n"
        + "    data_type: TYPE_FP32\n"
        + "    dims: [ -1, 2, 3 ]\n"
        + "  }\n"
        + "]\n"
        + "output [\n"
        + "  {\n"
        + "    name: \"OUTPUT__0\"\n"
        + "    data_type: TYPE_FP32\n"
        + "    dims: [ -1, 3 ]\n"
        + "  }\n"
        + "]\n"
        + "version_policy: { specific: { versions: [ 4 ] } }\n";
    assertEquals(want, layout.config("clf", 4));

    Message config = parseTritonConfig(want);
    Descriptors.Descriptor d = config.getDescriptorForType();
    assertEquals("pytorch_libtorch", config.getField(d.findFieldByName("platform")));
    assertEquals(0, config.getField(d.findFieldByName("max_batch_size")));
    assertThrows(TextFormat.ParseException.class, () -> parseTritonConfig(want.replace("data_type", "datatype")),
        "the parser knows the fields");
    Message in1 = (Message) config.getRepeatedField(d.findFieldByName("input"), 1);
    Descriptors.Descriptor t = in1.getDescriptorForType();
    assertEquals("INPUT__1", in1.getField(t.findFieldByName("name")));
    assertEquals("TYPE_FP32", ((Descriptors.EnumValueDescriptor) in1.getField(t.findFieldByName("data_type"))).getName());
    assertEquals(List.of(-1L, 2L, 3L), in1.getField(t.findFieldByName("dims")));
  }

  @Test
  void torchScriptVersionsAreModelPt() throws Exception {
    byte[] pt;
    try (InputStream in = getClass().getResourceAsStream("/torchscript/mlp.pt")) {
      pt = in.readAllBytes();
    }
    TorchArchive archive = TorchArchive.read(pt);
    float[] w = archive.floats("fc3.bias");
    w[0] += 1;
    ByteArrayOutputStream v2 = new ByteArrayOutputStream();
    archive.compose(List.of("fc3.bias"), w).writeTo(v2);
    ExportLayout layout = ExportLayout.torchScript(List.of(new ExportLayout.Tensor(true, new long[] {-1, 6})),
        List.of(new ExportLayout.Tensor(true, new long[] {-1, 3})));
    ExportDirectory export = new ExportDirectory(dir);
    export.publish("mlp", 1, new ByteArrayInputStream(pt), Set.of(1L), layout);
    export.publish("mlp", 2, archive.compose(List.of("fc3.bias"), w).openStream(), Set.of(1L, 2L), layout);
    assertArrayEquals(pt, Files.readAllBytes(dir.resolve("mlp/1/model.pt")));
    assertArrayEquals(v2.toByteArray(), Files.readAllBytes(dir.resolve("mlp/2/model.pt")));
    assertArrayEquals(w, TorchArchive.read(dir.resolve("mlp/2/model.pt")).floats("fc3.bias"));
    assertEquals(layout.config("mlp", 2), Files.readString(dir.resolve("mlp/config.pbtxt")));
    assertFalse(Files.exists(dir.resolve("mlp/2/model.onnx")));
    try (var files = Files.list(dir.resolve("mlp/2"))) {
      assertEquals(List.of("model.pt"), files.map(p -> p.getFileName().toString()).toList(), "no temporary left");
    }
    assertTrue(parseTritonConfig(Files.readString(dir.resolve("mlp/config.pbtxt"))).isInitialized());
  }

  @Test
  void aLibtorchLayoutNeedsTensors() {
    assertThrows(IllegalArgumentException.class, () -> ExportLayout.torchScript(List.of(), List.of()));
    assertThrows(IllegalArgumentException.class, () -> ExportLayout.torchScript(
        List.of(new ExportLayout.Tensor(true, new long[0])), List.of(new ExportLayout.Tensor(true, new long[] {-1}))));
  }

  /**
   * Parses {@code text} as a Triton ModelConfig: the subset of model_config.proto's messages and
   * fields Lethe writes (names and types as Triton declares them), so a misspelt field, a wrong
   * enum value or bad syntax fails here as it would in Triton.
   */
  static Message parseTritonConfig(String text) throws Exception {
    EnumDescriptorProto dataType = EnumDescriptorProto.newBuilder().setName("DataType")
        .addValue(value("TYPE_INVALID", 0)).addValue(value("TYPE_BOOL", 1)).addValue(value("TYPE_INT32", 8))
        .addValue(value("TYPE_INT64", 9)).addValue(value("TYPE_FP16", 10)).addValue(value("TYPE_FP32", 11))
        .addValue(value("TYPE_FP64", 12)).build();
    DescriptorProto tensor = DescriptorProto.newBuilder().setName("ModelTensor")
        .addField(field("name", 1, FieldDescriptorProto.Type.TYPE_STRING, false, null))
        .addField(field("data_type", 2, FieldDescriptorProto.Type.TYPE_ENUM, false, ".triton.DataType"))
        .addField(field("dims", 4, FieldDescriptorProto.Type.TYPE_INT64, true, null)).build();
    DescriptorProto specific = DescriptorProto.newBuilder().setName("Specific")
        .addField(field("versions", 1, FieldDescriptorProto.Type.TYPE_INT64, true, null)).build();
    DescriptorProto policy = DescriptorProto.newBuilder().setName("ModelVersionPolicy").addNestedType(specific)
        .addField(field("specific", 3, FieldDescriptorProto.Type.TYPE_MESSAGE, false,
            ".triton.ModelVersionPolicy.Specific")).build();
    DescriptorProto config = DescriptorProto.newBuilder().setName("ModelConfig")
        .addField(field("name", 1, FieldDescriptorProto.Type.TYPE_STRING, false, null))
        .addField(field("platform", 2, FieldDescriptorProto.Type.TYPE_STRING, false, null))
        .addField(field("version_policy", 3, FieldDescriptorProto.Type.TYPE_MESSAGE, false,
            ".triton.ModelVersionPolicy"))
        .addField(field("max_batch_size", 4, FieldDescriptorProto.Type.TYPE_INT32, false, null))
        .addField(field("input", 5, FieldDescriptorProto.Type.TYPE_MESSAGE, true, ".triton.ModelTensor"))
        .addField(field("output", 6, FieldDescriptorProto.Type.TYPE_MESSAGE, true, ".triton.ModelTensor")).build();
    FileDescriptorProto file = FileDescriptorProto.newBuilder().setName("model_config_subset.proto")
        .setPackage("triton").setSyntax("proto3").addEnumType(dataType).addMessageType(tensor)
        .addMessageType(policy).addMessageType(config).build();
    Descriptors.FileDescriptor fd = Descriptors.FileDescriptor.buildFrom(file, new Descriptors.FileDescriptor[0]);
    DynamicMessage.Builder b = DynamicMessage.newBuilder(fd.findMessageTypeByName("ModelConfig"));
    TextFormat.getParser().merge(text, b);
    return b.build();
  }

  private static EnumValueDescriptorProto value(String name, int number) {
    return EnumValueDescriptorProto.newBuilder().setName(name).setNumber(number).build();
  }

  private static FieldDescriptorProto field(String name, int number, FieldDescriptorProto.Type type,
      boolean repeated, String typeName) {
    FieldDescriptorProto.Builder f = FieldDescriptorProto.newBuilder().setName(name).setNumber(number).setType(type)
        .setLabel(repeated ? FieldDescriptorProto.Label.LABEL_REPEATED : FieldDescriptorProto.Label.LABEL_OPTIONAL);
    if (typeName != null) {
      f.setTypeName(typeName);
    }
    return f.build();
  }
}
