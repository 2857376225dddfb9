package dev.lethe.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OrtEnvironment;
import com.google.protobuf.ByteString;
import dev.lethe.bench.FrozenMlp;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.LetheException;
import dev.lethe.core.Samples;
import dev.lethe.train.Mlp;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The streaming scan of a model file against the in-memory parse and split it replaces: on
 * every ONNX fixture the split is byte-identical (skeleton, weights, splice table, parameter
 * offsets) and the inspected graph the same; large initializers are cut from the structure and
 * read by ONNX Runtime from the file, with the same logits.
 */
class ModelScanTest {
  /** Absolute tolerance on logits of order 1: a few float32 ulps. */
  private static final float LOGITS_TOLERANCE = 1e-5f;
  @TempDir Path dir;

  private Path write(String name, byte[] bytes) throws Exception {
    Path f = dir.resolve(name);
    Files.write(f, bytes);
    return f;
  }

  static List<Path> fixtures() throws Exception {
    List<Path> all = new ArrayList<>();
    try (Stream<Path> s = Files.walk(Path.of("src", "test", "resources"))) {
      s.filter(p -> p.toString().endsWith(".onnx")).sorted().forEach(all::add);
    }
    return all;
  }

  @Test
  void streamingSplitEqualsTheInMemorySplitOnEveryFixture() throws Exception {
    compareOnEveryFixture(ModelScan.CUT_BYTES, false);
  }

  /**
   * With every payload of 16 bytes or more cut (the fixtures are small), the same, and the
   * gradient graph, whose construction runs the structure through ONNX Runtime several times,
   * builds with the cut initializers read from the file.
   */
  @Test
  void cuttingEveryInitializerKeepsTheSplitAndOnnxRuntimeLoadsTheStructure() throws Exception {
    compareOnEveryFixture(16, true);
  }

  private void compareOnEveryFixture(int cutBytes, boolean gradients) throws Exception {
    List<Path> files = fixtures();
    assertTrue(files.size() >= 25, "fixtures: " + files);
    int compared = 0;
    long cut = 0;
    for (Path f : files) {
      byte[] bytes = Files.readAllBytes(f);
      ModelGraph old;
      try {
        old = ModelGraph.inspect(bytes, "", List.of(), true, GraphLimits.defaults());
      } catch (LetheException e) {
        continue; // not registrable with defaults (several outputs): nothing to compare
      }
      ScannedModel scanned = ModelScan.layout(f, cutBytes).scan(GraphLimits.defaults());
      ModelGraph now = ModelGraph.inspect(scanned, "", List.of(), true);
      assertEquals(old.logits(), now.logits(), f.toString());
      assertEquals(describe(old), describe(now), f.toString());
      long[] counts = old.parameters().stream().mapToLong(ParameterSpec::elementCount).toArray();
      WeightSplicer.Split a = WeightSplicer.split(bytes, old.parameterNames(), counts);
      WeightSplicer.Split b = scanned.split(old.parameterNames(), counts).toSplit();
      assertArrayEquals(a.skeleton(), b.skeleton(), f.toString());
      assertArrayEquals(a.weights(), b.weights(), f.toString());
      assertArrayEquals(a.spliceOffsets(), b.spliceOffsets(), f.toString());
      assertArrayEquals(a.spliceParameters(), b.spliceParameters(), f.toString());
      assertArrayEquals(a.parameterOffsets(), b.parameterOffsets(), f.toString());
      assertEquals(withoutCutPayloads(OnnxMl.ModelProto.parseFrom(bytes), scanned),
          withoutExternalReferences(scanned.model()), f.toString());
      cut += scanned.cutBytes();
      compared++;
      if (gradients) {
        // The same graph, or the same refusal, as from the whole file.
        assertEquals(gradientGraph(old.model(), old), gradientGraph(scanned.model(), now), f.toString());
      }
    }
    assertTrue(compared >= 20, compared + " fixtures compared");
    if (gradients) {
      assertTrue(cut > 100_000, "the fixtures' initializers were cut: " + cut);
    }
  }

  private static String gradientGraph(OnnxMl.ModelProto model, ModelGraph g) {
    try {
      GradientGraph built = GradientGraph.build(model, g.logits(),
          dev.lethe.core.LossFunction.SOFTMAX_CROSS_ENTROPY, g.parameterNames(), 0);
      return built.parameterCount() + " parameters, " + built.classes() + " classes, per sample "
          + built.perSample() + ", nodes " + built.model(GradientGraph.Seed.LOSS).getGraph().getNodeCount();
    } catch (LetheException e) {
      return e.getMessage();
    }
  }

  private static String describe(ModelGraph g) {
    StringBuilder b = new StringBuilder(g.logitsSource());
    g.parameters().forEach(p -> b.append(' ').append(p.name()).append(java.util.Arrays.toString(p.dims())));
    g.inputs().forEach(i -> b.append(' ').append(i.name()).append(i.isFloat())
        .append(java.util.Arrays.toString(i.dims())));
    return b.toString();
  }

  /** The structure as uploaded: the original with the cut payloads cleared. */
  private static OnnxMl.ModelProto withoutCutPayloads(OnnxMl.ModelProto m, ScannedModel s) {
    OnnxMl.GraphProto.Builder g = m.getGraph().toBuilder();
    for (int i = 0; i < g.getInitializerCount(); i++) {
      OnnxMl.TensorProto t = g.getInitializer(i);
      if (isExternal(s.model().getGraph().getInitializer(i))) {
        g.setInitializer(i, t.toBuilder().clearRawData().clearFloatData());
      }
    }
    return m.toBuilder().setGraph(g).build();
  }

  private static boolean isExternal(OnnxMl.TensorProto t) {
    return t.getDataLocation() == OnnxMl.TensorProto.DataLocation.EXTERNAL;
  }

  private static OnnxMl.ModelProto withoutExternalReferences(OnnxMl.ModelProto m) {
    OnnxMl.GraphProto.Builder g = m.getGraph().toBuilder();
    for (int i = 0; i < g.getInitializerCount(); i++) {
      if (isExternal(g.getInitializer(i))) {
        g.setInitializer(i, g.getInitializer(i).toBuilder().clearDataLocation().clearExternalData());
      }
    }
    OnnxMl.ModelProto.Builder b = m.toBuilder().setGraph(g).clearMetadataProps();
    m.getMetadataPropsList().stream().filter(e -> !e.getKey().equals(ExternalData.FOLDER_KEY))
        .forEach(b::addMetadataProps);
    return b.build();
  }

  @Test
  void largeInitializersStayInTheFileAndOnnxRuntimeReadsThemFromThere() throws Exception {
    Path file = dir.resolve("frozen.onnx");
    long size = FrozenMlp.write(file, 16, 256, 4, 10, 3);
    ModelScan.Layout layout = ModelScan.layout(file);
    // Four frozen layers of 256 KiB (the first 16 KiB, kept) are cut; W [256, 10] is 10 KiB, kept.
    assertEquals(3L * 256 * 256 * 4, layout.cutBytes());
    assertTrue(layout.structureBytes() < size - layout.cutBytes() + 1024, layout.structureBytes() + " of " + size);
    ScannedModel scanned = layout.scan(GraphLimits.defaults());
    assertEquals(dir.toAbsolutePath(), ExternalData.folder(scanned.model()));
    assertEquals(layout.cutBytes(), ExternalData.externalBytes(scanned.model()));
    assertTrue(scanned.model().getSerializedSize() < 64 * 1024, "" + scanned.model().getSerializedSize());

    byte[] bytes = Files.readAllBytes(file);
    ModelGraph full = ModelGraph.inspect(bytes, FrozenMlp.LOGITS, FrozenMlp.ERASABLE, false,
        GraphLimits.defaults());
    ModelGraph scan = ModelGraph.inspect(scanned, FrozenMlp.LOGITS, FrozenMlp.ERASABLE, false);
    long[] counts = {2560, 10};
    FileSplit split = scanned.split(FrozenMlp.ERASABLE, counts);
    List<FloatBuffer> params = params(split);
    Random r = new Random(5);
    float[] x = new float[3 * 16];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian();
    }
    Samples batch = new Samples(List.of("a", "b", "c"),
        Map.of(FrozenMlp.INPUT, DenseTensor.ofFloats(new long[] {3, 16}, x)), null);
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    float[] expected;
    float[] actual;
    try (ForwardSession a = ForwardSession.create(env, full); ForwardSession b = ForwardSession.create(env, scan)) {
      expected = a.logits(batch, 3, params).values();
      actual = b.logits(batch, 3, params).values();
    }
    // Same weights; the external-data session runs without pre-packing, another summation order
    // of the same float32 products: equal to rounding.
    assertArrayEquals(expected, actual, LOGITS_TOLERANCE);
    // The gradient graph keeps the frozen layers as external data too: its engine loads and runs.
    GradientGraph g = GradientGraph.build(scanned.model(), FrozenMlp.LOGITS,
        dev.lethe.core.LossFunction.SOFTMAX_CROSS_ENTROPY, FrozenMlp.ERASABLE, 0);
    assertNotNull(ExternalData.folder(g.model(GradientGraph.Seed.LOSS)));
  }

  private static List<FloatBuffer> params(FileSplit split) {
    List<FloatBuffer> out = new ArrayList<>();
    for (int p = 0; p + 1 < split.parameterOffsets().length; p++) {
      int from = (int) split.parameterOffsets()[p];
      int to = (int) split.parameterOffsets()[p + 1];
      ByteBuffer d = ByteBuffer.allocateDirect(to - from).order(ByteOrder.nativeOrder());
      d.asFloatBuffer().put(ByteBuffer.wrap(split.weights(), from, to - from).slice()
          .order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer());
      out.add(d.asFloatBuffer());
    }
    return out;
  }

  @Test
  void externalDataInALargeUploadIsStillRefused() throws Exception {
    OnnxMl.ModelProto base = new OnnxBuilder("g").floatInput("x", -1, 2)
        .node("Identity", "y", "x").floatOutput("y", -1, 2).build();
    OnnxMl.TensorProto external = OnnxMl.TensorProto.newBuilder().setName("E")
        .setDataType(OnnxMl.TensorProto.DataType.FLOAT_VALUE).addDims(1 << 16)
        .setRawData(ByteString.copyFrom(new byte[1 << 18]))
        .setDataLocation(OnnxMl.TensorProto.DataLocation.EXTERNAL).build();
    Path f = write("ext.onnx", base.toBuilder().setGraph(base.getGraph().toBuilder()
        .addInitializer(external)).build().toByteArray());
    ModelScan.Layout layout = ModelScan.layout(f);
    assertEquals(0, layout.cutBytes(), "a tensor that claims external data is not cut");
    LetheException e = assertThrows(LetheException.class, () -> layout.scan(GraphLimits.defaults()));
    assertEquals(LetheException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().contains("keeps its data outside the file"), e.getMessage());
  }

  @Test
  void anUploadsOwnFolderEntryIsDropped() throws Exception {
    Path file = dir.resolve("frozen.onnx");
    FrozenMlp.write(file, 16, 256, 2, 10, 3);
    OnnxMl.ModelProto m = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(file));
    Path claimed = write("claims.onnx", m.toBuilder().addMetadataProps(OnnxMl.StringStringEntryProto
        .newBuilder().setKey(ExternalData.FOLDER_KEY).setValue("/etc")).build().toByteArray());
    ScannedModel scanned = ModelScan.layout(claimed).scan(GraphLimits.defaults());
    assertEquals(dir.toAbsolutePath(), ExternalData.folder(scanned.model()));
    assertEquals(1, scanned.model().getMetadataPropsCount());
  }

  @Test
  void aModelWithASymbolicLengthKeepsItsWeightsInTheStructure() throws Exception {
    Path file = dir.resolve("frozen.onnx");
    FrozenMlp.write(file, 16, 256, 2, 10, 3);
    ScannedModel fixed = ModelScan.layout(file).scan(GraphLimits.defaults());
    assertTrue(fixed.cutBytes() > 0);
    assertFalse(ModelScan.needsWhole(fixed));
    // the same graph with its input's dimension 1 symbolic: a later specialisation to a new
    // length builds from the structure when the scanned file is gone, so nothing may be cut
    OnnxMl.ModelProto m = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(file));
    OnnxMl.ModelProto.Builder b = m.toBuilder();
    b.getGraphBuilder().getInputBuilder(0).getTypeBuilder().getTensorTypeBuilder()
        .getShapeBuilder().getDimBuilder(1).clearDimValue().setDimParam("S");
    Path dynamic = write("dynamic.onnx", b.build().toByteArray());
    ScannedModel cut = ModelScan.layout(dynamic).scan(GraphLimits.defaults());
    assertTrue(ModelScan.needsWhole(cut));
    ModelScan.Layout whole = ModelScan.whole(dynamic);
    assertEquals(0, whole.cutBytes());
    ScannedModel kept = whole.scan(GraphLimits.defaults());
    assertEquals(0, ExternalData.externalBytes(kept.model()));
    assertEquals(b.build().getGraph().getInitializerList(), kept.model().getGraph().getInitializerList());
  }

  @Test
  void truncatedAndGarbageFilesAreInvalidArguments() throws Exception {
    byte[] mlp = Mlp.initial(20, 8, 3, new Random(1)).onnx("m");
    Path truncated = write("t.onnx", java.util.Arrays.copyOf(mlp, mlp.length - 10));
    Path zeros = write("z.onnx", new byte[4096]);
    for (Path f : List.of(truncated, zeros)) {
      LetheException e = assertThrows(LetheException.class,
          () -> ModelScan.layout(f).scan(GraphLimits.defaults()));
      assertEquals(LetheException.Kind.INVALID_ARGUMENT, e.kind());
      assertTrue(e.getMessage().startsWith("chunk: not a valid ONNX file"), e.getMessage());
    }
  }
}
