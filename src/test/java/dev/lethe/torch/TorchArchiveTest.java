package dev.lethe.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import dev.lethe.core.LetheException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link TorchArchive} against the fixtures' independent references (what torch wrote about its
 * own state dict): names in state_dict order, parameter/buffer, dims, dtypes and values bit for
 * bit; composition: unchanged values give the file bit for bit, changed values reload (here and,
 * in {@link TorchLoadCheckTest}, in torch) with those values and every other byte unchanged, and
 * every CRC-32 is valid.
 */
class TorchArchiveTest {
  static List<String> families() {
    return TorchScriptFixtures.FAMILIES;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("families")
  void stateDictMatchesTorch(String family) {
    TorchScriptFixtures.Reference ref = TorchScriptFixtures.reference(family);
    TorchArchive a = TorchArchive.read(TorchScriptFixtures.path(family + ".pt"));
    assertEquals(family, a.root());
    List<String> want = ref.state().stream().map(TorchScriptFixtures.StateEntry::name).toList();
    assertEquals(want, a.tensors().stream().map(TorchTensor::name).toList(), "state_dict names and order");
    for (TorchScriptFixtures.StateEntry e : ref.state()) {
      TorchTensor t = a.tensor(e.name()).orElseThrow();
      assertEquals(e.kind(), t.kind(), e.name());
      assertArrayEquals(e.dims(), t.dims(), e.name());
      assertEquals(e.dataType() == OnnxMl.TensorProto.DataType.FLOAT_VALUE ? TorchDtype.FLOAT32 : TorchDtype.INT64,
          t.dtype(), e.name());
      assertNull(t.aliasOf(), e.name());
      assertArrayEquals(e.raw(), a.rawValues(e.name()), e.name() + " values");
      if (t.isParameter()) {
        assertArrayEquals(e.floats(), a.floats(e.name()), e.name());
      }
    }
    assertEquals(new ArrayList<>(ref.gradients().keySet()), names(a.parameters()),
        "parameters() is named_parameters(), in order");
  }

  @Test
  void forwardSignatureOfTheRootModule() {
    TorchArchive gru = TorchArchive.read(TorchScriptFixtures.path("gru.pt"));
    assertEquals("__torch__.GruClassifier", gru.rootClass());
    assertEquals(new ForwardSignature(List.of(new ForwardSignature.Argument("tokens", "Tensor")), "Tensor"),
        gru.forward().orElseThrow());
    assertEquals(List.of(new ForwardSignature.Argument("x", "Tensor")),
        TorchArchive.read(TorchScriptFixtures.path("nested.pt")).forward().orElseThrow().arguments(),
        "the root class, not the Mlp defined in the same code file");
    ForwardSignature many = ForwardSignature.parse("def forward(self: __torch__.M, a: Tensor, "
        + "b: Optional[Tensor]=None, c: Tuple[Tensor, Tensor]) -> Tuple[Tensor, Dict[str, Tensor]]:");
    assertEquals(List.of(new ForwardSignature.Argument("a", "Tensor"),
        new ForwardSignature.Argument("b", "Optional[Tensor]"), new ForwardSignature.Argument("c", "Tuple[Tensor, Tensor]")),
        many.arguments());
    assertEquals("Tuple[Tensor, Dict[str, Tensor]]", many.returns());
  }

  @Test
  void extraFilesAreRead() {
    TorchArchive a = TorchArchive.read(TorchScriptFixtures.path("extra.pt"));
    assertEquals("{\"inputs\": [{\"name\": \"x\", \"dims\": [-1, 6]}]}",
        new String(a.extraFile("lethe.json").orElseThrow(), java.nio.charset.StandardCharsets.UTF_8));
    assertTrue(a.extraFile("other.json").isEmpty());
    assertTrue(TorchArchive.read(TorchScriptFixtures.path("mlp.pt")).extraFile("lethe.json").isEmpty());
  }

  @Test
  void batchNormStatisticsAreBuffers() {
    TorchArchive a = TorchArchive.read(TorchScriptFixtures.path("cnn_bn.pt"));
    for (String b : List.of("bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked")) {
      assertEquals(TorchTensor.Kind.BUFFER, a.tensor(b).orElseThrow().kind(), b);
    }
    TorchTensor steps = a.tensor("bn2.num_batches_tracked").orElseThrow();
    assertEquals(TorchDtype.INT64, steps.dtype());
    assertArrayEquals(new long[0], steps.dims());
    assertEquals(7L, ByteBuffer.wrap(a.rawValues(steps.name())).order(ByteOrder.LITTLE_ENDIAN).getLong());
    assertEquals(List.of("conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight",
        "bn2.bias", "fc.weight", "fc.bias"), names(a.parameters()), "conv2 has no bias (None is skipped)");
  }

  @Test
  void transformerNamesAreDotted() {
    TorchArchive a = TorchArchive.read(TorchScriptFixtures.path("transformer.pt"));
    TorchTensor w = a.tensor("encoder.layers.0.self_attn.in_proj_weight").orElseThrow();
    assertArrayEquals(new long[] {48, 16}, w.dims());
    assertTrue(a.tensor("pos").orElseThrow().isParameter(), "a root parameter has no prefix");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("families")
  void unchangedValuesGiveTheFileBitForBit(String family) throws IOException {
    byte[] file = TorchScriptFixtures.bytes(family + ".pt");
    TorchArchive a = TorchArchive.read(file);
    List<String> names = names(a.parameters());
    ArchiveComposition same = a.compose(names, ByteBuffer.wrap(a.weights(names)));
    assertEquals(file.length, same.size());
    assertArrayEquals(file, written(same));
    try (InputStream in = same.openStream()) {
      assertArrayEquals(file, in.readAllBytes());
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("families")
  void composedArchiveReloadsWithTheNewValues(String family, @TempDir Path dir) throws IOException {
    byte[] file = TorchScriptFixtures.bytes(family + ".pt");
    TorchArchive a = TorchArchive.read(file);
    // every other parameter, so untouched ones sit between replaced ones
    List<String> names = new ArrayList<>();
    for (int i = 0; i < a.parameters().size(); i += 2) {
      names.add(a.parameters().get(i).name());
    }
    float[] values = changed(a, names, 11);
    byte[] composed = written(a.compose(names, values));
    assertEquals(file.length, composed.length);
    assertNotEquals(java.util.Arrays.hashCode(file), java.util.Arrays.hashCode(composed));
    assertCrcsValid(composed, dir);
    TorchArchive b = TorchArchive.read(composed);
    assertEquals(names(a.tensors()), names(b.tensors()));
    assertArrayEquals(VersionBytes.of(values), b.weights(names));
    for (TorchTensor t : a.tensors()) {
      if (!names.contains(t.name())) {
        assertArrayEquals(a.rawValues(t.name()), b.rawValues(t.name()), t.name() + " is unchanged");
      }
    }
    // outside the replaced storages and their CRC fields, not a byte moved
    int differing = 0;
    for (int i = 0; i < file.length; i++) {
      differing += file[i] != composed[i] ? 1 : 0;
    }
    long replacedBytes = names.stream().mapToLong(n -> a.tensor(n).orElseThrow().elementCount() * 4).sum();
    assertTrue(differing <= replacedBytes + 12L * names.size(), differing + " bytes differ");
  }

  @Test
  void tiedWeightsAreOneTensorUnderTwoNames() throws IOException {
    TorchScriptFixtures.Reference ref = TorchScriptFixtures.reference("tied");
    TorchArchive a = TorchArchive.read(TorchScriptFixtures.path("tied.pt"));
    assertEquals(List.of("embed.weight", "head.weight"), names(a.tensors()));
    assertEquals(ref.state().stream().map(TorchScriptFixtures.StateEntry::name).toList(), names(a.tensors()));
    assertEquals("embed.weight", a.tensor("head.weight").orElseThrow().aliasOf());
    assertEquals(List.of("embed.weight"), names(a.parameters()));
    LetheException e = assertThrows(LetheException.class,
        () -> a.replaceable(List.of("embed.weight", "head.weight"), "spec.erasable_parameters"));
    assertEquals(LetheException.Kind.INVALID_ARGUMENT, e.kind());
    assertEquals("spec.erasable_parameters: 'head.weight' is listed twice (it is tied to 'embed.weight', the same "
        + "tensor)", e.getMessage());
    float[] values = changed(a, List.of("head.weight"), 3);
    TorchArchive b = TorchArchive.read(written(a.compose(List.of("head.weight"), values)));
    assertArrayEquals(values, b.floats("embed.weight"), "both names see the new values");
    assertArrayEquals(values, b.floats("head.weight"));
  }

  @Test
  void scriptedSubmodulesFrozenParametersAndPlainAttributes() throws IOException {
    TorchScriptFixtures.Reference ref = TorchScriptFixtures.reference("nested");
    TorchArchive a = TorchArchive.read(TorchScriptFixtures.path("nested.pt"));
    assertEquals(ref.state().stream().map(TorchScriptFixtures.StateEntry::name).toList(), names(a.tensors()),
        "Sequential, ModuleDict and custom submodules in torch's state_dict order; the plain tensor attribute "
            + "'offset' is not in it");
    for (TorchScriptFixtures.StateEntry e : ref.state()) {
      assertEquals(e.kind(), a.tensor(e.name()).orElseThrow().kind(), e.name());
      assertArrayEquals(e.raw(), a.rawValues(e.name()), e.name());
    }
    TorchTensor frozen = a.tensor("frozen").orElseThrow();
    assertTrue(frozen.isParameter() && !frozen.requiresGrad(), "a frozen parameter is still a parameter");
    float[] v = changed(a, List.of("frozen", "heads.a.weight"), 9);
    TorchArchive b = TorchArchive.read(written(a.compose(List.of("frozen", "heads.a.weight"), v)));
    assertArrayEquals(VersionBytes.of(v), b.weights(List.of("frozen", "heads.a.weight")));
  }

  @Test
  void disjointViewsOfOneStorageAreReplacedIndependently() throws IOException {
    TorchArchive a = TorchArchive.read(TorchScriptFixtures.path("shared_view.pt"));
    assertEquals(a.tensor("a.weight").orElseThrow().storageKey(), a.tensor("b.weight").orElseThrow().storageKey());
    assertEquals(6, a.tensor("b.weight").orElseThrow().storageOffset());
    float[] b = changed(a, List.of("b.weight"), 5);
    TorchArchive c = TorchArchive.read(written(a.compose(List.of("b.weight"), b)));
    assertArrayEquals(b, c.floats("b.weight"));
    assertArrayEquals(a.floats("a.weight"), c.floats("a.weight"), "the other view is untouched");
  }

  @Test
  void replaceableRefusesWithTheFieldNamed() {
    TorchArchive a = TorchArchive.read(TorchScriptFixtures.path("cnn_bn.pt"));
    assertInvalid("spec.erasable_parameters: 'fc.nope' is not a parameter of the TorchScript module; it has "
            + "[conv1.weight, conv1.bias, bn1.weight, bn1.bias, conv2.weight, bn2.weight, bn2.bias, fc.weight, fc.bias]",
        () -> a.replaceable(List.of("fc.nope"), "spec.erasable_parameters"));
    assertInvalid("spec.erasable_parameters: 'bn1.running_mean' is a buffer of the TorchScript module, not a parameter",
        () -> a.replaceable(List.of("bn1.running_mean"), "spec.erasable_parameters"));
    assertInvalid("spec.erasable_parameters: 'fc.bias' is listed twice",
        () -> a.replaceable(List.of("fc.bias", "fc.bias"), "spec.erasable_parameters"));
    assertThrows(IllegalArgumentException.class, () -> a.compose(List.of("fc.bias"), new float[2]),
        "values of the wrong size");
  }

  static void assertInvalid(String message, org.junit.jupiter.api.function.Executable call) {
    LetheException e = assertThrows(LetheException.class, call);
    assertEquals(LetheException.Kind.INVALID_ARGUMENT, e.kind());
    assertEquals(message, e.getMessage());
  }

  /** Every entry's bytes match its central CRC, read by java.util.zip and by our own directory. */
  static void assertCrcsValid(byte[] zipBytes, Path dir) throws IOException {
    Path f = dir.resolve("composed.zip");
    Files.write(f, zipBytes);
    int n = 0;
    try (ZipFile z = new ZipFile(f.toFile())) {
      for (Enumeration<? extends ZipEntry> en = z.entries(); en.hasMoreElements(); ) {
        ZipEntry e = en.nextElement();
        try (InputStream in = z.getInputStream(e)) {
          CRC32 crc = new CRC32();
          crc.update(in.readAllBytes());
          assertEquals(e.getCrc(), crc.getValue(), e.getName());
        }
        n++;
      }
    }
    // local headers and data descriptors agree with the central directory (checked by read)
    ZipDirectory d = ZipDirectory.read(ArchiveSource.ofBytes(zipBytes), ArchiveLimits.defaults());
    assertEquals(n, d.entries().size());
    for (ZipDirectory.Entry e : d.entries().values()) {
      d.content(ArchiveSource.ofBytes(zipBytes), e, Integer.MAX_VALUE - 16);
    }
  }

  /** The parameters' values scaled and shifted by a seeded random amount. */
  static float[] changed(TorchArchive a, List<String> names, long seed) {
    ByteBuffer b = ByteBuffer.wrap(a.weights(names)).order(ByteOrder.LITTLE_ENDIAN);
    float[] v = new float[b.remaining() / 4];
    b.asFloatBuffer().get(v);
    Random r = new Random(seed);
    for (int i = 0; i < v.length; i++) {
      v[i] = v[i] * 0.5f + (float) r.nextGaussian();
    }
    return v;
  }

  static byte[] written(ArchiveComposition c) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    c.writeTo(out);
    return out.toByteArray();
  }

  static List<String> names(List<TorchTensor> tensors) {
    return tensors.stream().map(TorchTensor::name).toList();
  }

  /** Little-endian float32 bytes (the weights layout). */
  static final class VersionBytes {
    static byte[] of(float[] v) {
      ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
      b.asFloatBuffer().put(v);
      return b.array();
    }
  }
}
