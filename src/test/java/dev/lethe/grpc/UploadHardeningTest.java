package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl;
import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.ListErasuresRequest;
import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelSpec;
import dev.lethe.api.v1.WatchModelRequest;
import dev.lethe.onnx.GraphLimits;
import dev.lethe.onnx.OnnxBuilder;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #14 findings 1 and 6 through the real server: uploads that would make ONNX Runtime read
 * the server's files, oversized graphs, impossible element counts, huge echoed values and
 * internal errors. Every refusal asserts its exact code and that nothing changed.
 */
class UploadHardeningTest {
  @TempDir Path dir;
  private final Fixtures.Mlp mlp = Fixtures.mlp(3);

  private ServerHarness server(GraphLimits limits) throws Exception {
    return new ServerHarness(new ServerConfig("127.0.0.1:0", dir,
        new StoreConfig(3, 1 << 24, null, limits), 64 << 20, false, 5), store -> {});
  }

  private static StatusRuntimeException refused(Status.Code code, ServerHarness h, String name,
      byte[] onnx) {
    List<ModelInfo> before = h.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsList();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> h.put(ModelMessages.spec(Fixtures.spec(name)), onnx));
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    assertEquals(before, h.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsList());
    return e;
  }

  /** The MLP fixture edited by {@code edit}. */
  private byte[] edited(UnaryOperator<OnnxMl.GraphProto.Builder> edit) throws Exception {
    OnnxMl.ModelProto m = OnnxMl.ModelProto.parseFrom(mlp.onnx());
    return m.toBuilder().setGraph(edit.apply(m.getGraph().toBuilder())).build().toByteArray();
  }

  /** A tensor whose data ONNX Runtime would read from {@code etc/passwd} under the working dir. */
  private static OnnxMl.TensorProto external(String name) {
    return OnnxMl.TensorProto.newBuilder().setName(name).addDims(4)
        .setDataType(OnnxMl.TensorProto.DataType.UINT8_VALUE)
        .setDataLocation(OnnxMl.TensorProto.DataLocation.EXTERNAL)
        .addExternalData(OnnxMl.StringStringEntryProto.newBuilder().setKey("location").setValue("etc/passwd"))
        .build();
  }

  private static OnnxMl.NodeProto constant(String output, OnnxMl.TensorProto value) {
    return OnnxMl.NodeProto.newBuilder().setOpType("Constant").setName("c_" + output)
        .addOutput(output)
        .addAttribute(OnnxMl.AttributeProto.newBuilder().setName("value")
            .setType(OnnxMl.AttributeProto.AttributeType.TENSOR).setT(value))
        .build();
  }

  private static OnnxMl.NodeProto ifNode(String output, OnnxMl.GraphProto branch) {
    return OnnxMl.NodeProto.newBuilder().setOpType("If").setName("if_" + output)
        .addInput("cond").addOutput(output)
        .addAttribute(OnnxMl.AttributeProto.newBuilder().setName("then_branch")
            .setType(OnnxMl.AttributeProto.AttributeType.GRAPH).setG(branch))
        .addAttribute(OnnxMl.AttributeProto.newBuilder().setName("else_branch")
            .setType(OnnxMl.AttributeProto.AttributeType.GRAPH).setG(branch))
        .build();
  }

  @Test
  void externalDataIsRefusedWhereverItIs() throws Exception {
    try (ServerHarness h = server(GraphLimits.defaults())) {
      // An initializer that is not an erasable parameter (finding 1: read back through Evaluate).
      StatusRuntimeException init = refused(Status.Code.INVALID_ARGUMENT, h, "leak1",
          edited(g -> g.addInitializer(external("secret"))));
      assertTrue(init.getStatus().getDescription().contains("tensor 'secret'"), init.getStatus().toString());
      assertTrue(init.getStatus().getDescription().contains("EXTERNAL"), init.getStatus().toString());
      // A Constant node's value.
      StatusRuntimeException cst = refused(Status.Code.INVALID_ARGUMENT, h, "leak2",
          edited(g -> g.addNode(constant("k", external("const_secret")))));
      assertTrue(cst.getStatus().getDescription().contains("tensor 'const_secret'"), cst.getStatus().toString());
      // A Constant inside an If branch, and a branch initializer.
      OnnxMl.GraphProto branch = OnnxMl.GraphProto.newBuilder().setName("branch")
          .addNode(constant("inner", external("deep_secret")))
          .addOutput(OnnxMl.ValueInfoProto.newBuilder().setName("inner")).build();
      StatusRuntimeException sub = refused(Status.Code.INVALID_ARGUMENT, h, "leak3",
          edited(g -> g.addNode(ifNode("branched", branch))));
      assertTrue(sub.getStatus().getDescription().contains("tensor 'deep_secret'"), sub.getStatus().toString());
      OnnxMl.GraphProto branchInit = OnnxMl.GraphProto.newBuilder().setName("branch2")
          .addInitializer(external("branch_init")).build();
      StatusRuntimeException sub2 = refused(Status.Code.INVALID_ARGUMENT, h, "leak4",
          edited(g -> g.addNode(ifNode("branched2", branchInit))));
      assertTrue(sub2.getStatus().getDescription().contains("tensor 'branch_init'"), sub2.getStatus().toString());
      // external_data entries without the EXTERNAL flag are refused too.
      OnnxMl.TensorProto sneaky = external("sneaky").toBuilder().clearDataLocation().build();
      refused(Status.Code.INVALID_ARGUMENT, h, "leak5", edited(g -> g.addInitializer(sneaky)));
      // The unmodified model is accepted: the check does not refuse inline data.
      assertEquals(1, h.put(ModelMessages.spec(Fixtures.spec("fine")), mlp.onnx()).getActiveVersion());
    }
  }

  @Test
  void graphsBeyondTheLimitsAreRefusedBeforeOnnxRuntimeSeesThem() throws Exception {
    try (ServerHarness h = server(new GraphLimits(1000, 2, 1 << 20))) {
      // Finding 6: a long chain of Identity nodes held a core in session creation.
      StatusRuntimeException nodes = refused(Status.Code.RESOURCE_EXHAUSTED, h, "chain", edited(g -> {
        String prev = "probs";
        for (int i = 0; i < 1000; i++) {
          g.addNode(OnnxMl.NodeProto.newBuilder().setOpType("Identity").addInput(prev).addOutput("id" + i));
          prev = "id" + i;
        }
        return g;
      }));
      assertTrue(nodes.getStatus().getDescription().contains("more than 1000 nodes"), nodes.getStatus().toString());
      OnnxMl.GraphProto leaf = OnnxMl.GraphProto.newBuilder().setName("leaf").build();
      OnnxMl.GraphProto deep = leaf;
      for (int d = 0; d < 3; d++) {
        deep = OnnxMl.GraphProto.newBuilder().setName("level" + d).addNode(ifNode("o" + d, deep)).build();
      }
      OnnxMl.GraphProto nested = deep;
      StatusRuntimeException depth = refused(Status.Code.RESOURCE_EXHAUSTED, h, "nested",
          edited(g -> g.addNode(ifNode("top", nested))));
      assertTrue(depth.getStatus().getDescription().contains("deeper than 2"), depth.getStatus().toString());
      // Dims [2^62, 64] overflow a long: INVALID_ARGUMENT naming the tensor (was INTERNAL).
      OnnxMl.TensorProto huge = OnnxMl.TensorProto.newBuilder().setName("huge")
          .setDataType(OnnxMl.TensorProto.DataType.FLOAT_VALUE).addDims(1L << 62).addDims(64).build();
      StatusRuntimeException overflow = refused(Status.Code.INVALID_ARGUMENT, h, "overflow",
          edited(g -> g.addInitializer(huge)));
      assertTrue(overflow.getStatus().getDescription().contains("tensor 'huge'"), overflow.getStatus().toString());
      OnnxMl.TensorProto big = huge.toBuilder().clearDims().addDims(2048).addDims(1024).build();
      StatusRuntimeException elements = refused(Status.Code.INVALID_ARGUMENT, h, "big",
          edited(g -> g.addInitializer(big)));
      assertTrue(elements.getStatus().getDescription().contains("more than 1048576 elements"),
          elements.getStatus().toString());
      // Erasable parameters declared [2^62, 64] too.
      byte[] badParam = new OnnxBuilder("p").floatInput("x", -1, 4)
          .initializer("W", new float[4], 4, 1)
          .node("MatMul", "logits", "x", "W").floatOutput("logits", -1, 1).toBytes();
      OnnxMl.ModelProto m = OnnxMl.ModelProto.parseFrom(badParam);
      OnnxMl.GraphProto.Builder g = m.getGraph().toBuilder();
      g.setInitializer(0, g.getInitializer(0).toBuilder().clearDims().addDims(1L << 62).addDims(64));
      StatusRuntimeException param = refused(Status.Code.INVALID_ARGUMENT, h, "param",
          m.toBuilder().setGraph(g).build().toByteArray());
      assertTrue(param.getStatus().getDescription().contains("tensor 'W'"), param.getStatus().toString());
      assertEquals(1, h.put(ModelMessages.spec(Fixtures.spec("fine")), mlp.onnx()).getActiveVersion());
    }
  }

  @Test
  void elementCountsThatOverflowAreInvalidArgumentNamingTheTensor() throws Exception {
    try (ServerHarness h = server(new GraphLimits(1000, 2, Long.MAX_VALUE))) {
      for (long[] dims : new long[][] {{1L << 62, 64}, {1L << 40, 1L << 40}, {3, Long.MAX_VALUE}}) {
        OnnxMl.TensorProto huge = OnnxMl.TensorProto.newBuilder().setName("huge")
            .setDataType(OnnxMl.TensorProto.DataType.FLOAT_VALUE).addDims(dims[0]).addDims(dims[1]).build();
        StatusRuntimeException e = refused(Status.Code.INVALID_ARGUMENT, h, "overflow",
            edited(g -> g.addInitializer(huge)));
        assertEquals("chunk: tensor 'huge' (initializer) declares dims whose element count overflows "
            + "a 64-bit integer", e.getStatus().getDescription());
      }
      // A graph input declared so.
      StatusRuntimeException input = refused(Status.Code.INVALID_ARGUMENT, h, "input", edited(g -> {
        OnnxMl.ValueInfoProto.Builder x = g.getInput(0).toBuilder();
        x.getTypeBuilder().getTensorTypeBuilder().getShapeBuilder().getDimBuilder(1).setDimValue(1L << 62);
        x.getTypeBuilder().getTensorTypeBuilder().getShapeBuilder().addDim(
            OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(64));
        return g.setInput(0, x);
      }));
      assertTrue(input.getStatus().getDescription().contains("graph input 'x'"), input.getStatus().toString());
    }
  }

  @Test
  void hugeValuesAreNotEchoedWhole() throws Exception {
    try (ServerHarness h = server(GraphLimits.defaults())) {
      h.put(ModelMessages.spec(Fixtures.spec("mlp")), mlp.onnx());
      String mib = "n".repeat(1 << 20);
      ModelSpec spec = ModelMessages.spec(Fixtures.spec("x")).toBuilder().setName(mib).build();
      StatusRuntimeException name = assertThrows(StatusRuntimeException.class, () -> h.put(spec, mlp.onnx()));
      assertEquals(Status.Code.INVALID_ARGUMENT, name.getStatus().getCode(), name.getStatus().toString());
      assertTrue(name.getStatus().getDescription().length() < 300, name.getStatus().getDescription().length() + " chars");
      assertTrue(name.getStatus().getDescription().contains("(1048576 chars)"), name.getStatus().getDescription());
      StatusRuntimeException watch = assertThrows(StatusRuntimeException.class,
          () -> h.blocking.watchModel(WatchModelRequest.newBuilder().setName(mib).build()).next());
      assertEquals(Status.Code.INVALID_ARGUMENT, watch.getStatus().getCode());
      assertTrue(watch.getStatus().getDescription().length() < 300);
      // A 5 MiB id: refused naming the field, quoted to 64 characters.
      dev.lethe.core.Samples one = Fixtures.batch(1, 1);
      dev.lethe.core.Samples longId = new dev.lethe.core.Samples(List.of("i".repeat(5 << 20)),
          one.inputs(), one.labels());
      EraseRequest erase = EraseRequest.newBuilder().setName("mlp")
          .setSamples(SampleMessages.batch(longId)).build();
      StatusRuntimeException id = assertThrows(StatusRuntimeException.class, () -> h.blocking.erase(erase));
      assertEquals(Status.Code.INVALID_ARGUMENT, id.getStatus().getCode(), id.getStatus().toString());
      assertTrue(id.getStatus().getDescription().startsWith("samples.ids: "), id.getStatus().getDescription());
      assertTrue(id.getStatus().getDescription().length() < 300, id.getStatus().getDescription().length() + " chars");
      assertEquals(List.of(1L), h.blocking.listModels(ListModelsRequest.getDefaultInstance())
          .getModels(0).getVersionsList().stream().map(v -> v.getVersion()).toList());
    }
  }

  @Test
  void internalErrorsCarryOnlyAnIncidentId() throws Exception {
    try (ServerHarness h = server(GraphLimits.defaults())) {
      h.put(ModelMessages.spec(Fixtures.spec("mlp")), mlp.onnx());
      // A server fault: the store's RocksDB gone from under a read.
      h.server.database().close();
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
          () -> h.blocking.listErasures(ListErasuresRequest.newBuilder().setName("mlp").build()));
      assertEquals(Status.Code.INTERNAL, e.getStatus().getCode(), e.getStatus().toString());
      String d = e.getStatus().getDescription();
      assertTrue(d.matches("internal error \\(incident [0-9a-f]{16}; details are in the server log\\)"), d);
      assertFalse(d.contains(dir.toString()), d);
      assertTrue(Files.isDirectory(dir));
    }
  }
}
