package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.EvaluateRequest;
import dev.lethe.api.v1.EvaluateResponse;
import dev.lethe.api.v1.GetModelRequest;
import dev.lethe.api.v1.ListErasuresRequest;
import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.Loss;
import dev.lethe.api.v1.ModelChunk;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelSpec;
import dev.lethe.api.v1.SampleBatch;
import dev.lethe.api.v1.SetActiveVersionRequest;
import dev.lethe.api.v1.Tensor;
import dev.lethe.api.v1.WatchModelRequest;
import dev.lethe.onnx.OnnxBuilder;
import dev.lethe.testing.Fixtures;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Every RPC through an in-process server; every error path with its exact status code. */
class ModelStoreServiceTest {
  private static final long LIMIT = 1 << 20;
  @TempDir Path dir;
  private ServerHarness lethe;
  private final Fixtures.Mlp mlp = Fixtures.mlp(11);

  @BeforeEach
  void start() throws Exception {
    lethe = new ServerHarness(dir, LIMIT);
  }

  @AfterEach
  void stop() throws Exception {
    lethe.close();
  }

  static ModelSpec spec(String name) {
    return ModelMessages.spec(Fixtures.spec(name));
  }

  private byte[] download(String name, long version, int chunkSize) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Iterator<ModelChunk> it = lethe.blocking.getModel(GetModelRequest.newBuilder()
        .setName(name).setVersion(version).setChunkSize(chunkSize).build());
    ModelChunk first = it.next();
    assertTrue(first.hasHeader());
    int chunks = 0;
    while (it.hasNext()) {
      ModelChunk c = it.next();
      assertTrue(c.getChunk().size() <= (chunkSize == 0 ? 1 << 20 : chunkSize));
      out.writeBytes(c.getChunk().toByteArray());
      chunks++;
    }
    byte[] bytes = out.toByteArray();
    assertEquals(first.getHeader().getSizeBytes(), bytes.length);
    assertTrue(chunks >= 1);
    return bytes;
  }

  private List<ModelInfo> models() {
    return lethe.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsList();
  }

  /** Asserts the call fails with {@code code} and a message naming {@code field}, changing nothing. */
  private void assertRefused(Status.Code code, String field, Executable call) {
    List<ModelInfo> before = models();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    assertTrue(e.getStatus().getDescription().contains(field),
        "message should name " + field + ": " + e.getStatus().getDescription());
    assertEquals(before, models());
  }

  @Test
  void putListGetRoundTrip() {
    ModelInfo info = lethe.put(spec("mlp"), mlp.onnx());
    assertEquals("mlp", info.getName());
    assertEquals(1, info.getActiveVersion());
    assertEquals(27, info.getParameterCount());
    assertEquals(List.of(3L), info.getOutputDimsList());
    assertEquals("x", info.getInputs(0).getName());
    assertTrue(info.getRegistrationMs() > 0, "PutModel reports its time");
    assertEquals(List.of(info.toBuilder().clearRegistrationMs().build()), models());
    assertArrayEquals(mlp.onnx(), download("mlp", 0, 0));
    assertArrayEquals(mlp.onnx(), download("mlp", 1, 100)); // many small chunks
  }

  @Test
  void evaluateThroughTheApi() {
    lethe.put(spec("mlp"), mlp.onnx());
    dev.lethe.core.Samples batch = Fixtures.batch(5, 9);
    EvaluateResponse r = lethe.blocking.evaluate(EvaluateRequest.newBuilder()
        .setName("mlp").setSamples(SampleMessages.batch(batch)).build());
    assertEquals(9, r.getLossesCount());
    assertEquals(1, r.getVersion());
    double mean = 0;
    for (int i = 0; i < 9; i++) {
      float[] x = java.util.Arrays.copyOfRange(batch.inputs().get("x").floats(), i * 4, i * 4 + 4);
      double[] z = mlp.logits(x);
      double lse = Math.log(Math.exp(z[0]) + Math.exp(z[1]) + Math.exp(z[2]));
      double expected = lse - z[(int) batch.labels().longs()[i]];
      assertEquals(expected, r.getLosses(i), 1e-5);
      mean += expected / 9;
    }
    assertEquals(mean, r.getMeanLoss(), 1e-5);
  }

  @Test
  void watchSeesNewVersionsAndActivation() throws Exception {
    lethe.put(spec("mlp"), mlp.onnx());
    BlockingQueue<ModelInfo> seen = new LinkedBlockingQueue<>();
    io.grpc.Context.CancellableContext ctx = io.grpc.Context.current().withCancellation();
    ctx.run(() -> lethe.async.watchModel(WatchModelRequest.newBuilder().setName("mlp").build(),
        new io.grpc.stub.StreamObserver<>() {
          @Override
          public void onNext(ModelInfo value) {
            seen.add(value);
          }

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {}
        }));
    assertEquals(1, seen.poll(10, TimeUnit.SECONDS).getActiveVersion());
    lethe.put(spec("mlp"), Fixtures.mlp(12).onnx());
    assertEquals(2, seen.poll(10, TimeUnit.SECONDS).getActiveVersion());
    lethe.blocking.setActiveVersion(
        SetActiveVersionRequest.newBuilder().setName("mlp").setVersion(1).build());
    ModelInfo last = seen.poll(10, TimeUnit.SECONDS);
    assertEquals(1, last.getActiveVersion());
    assertEquals(2, last.getVersionsCount());
    ctx.cancel(null);
  }

  @Test
  void restartKeepsModelsVersionsAndActivePointer() throws Exception {
    lethe.put(spec("mlp"), mlp.onnx());
    lethe.put(spec("mlp"), Fixtures.mlp(12).onnx());
    lethe.blocking.setActiveVersion(
        SetActiveVersionRequest.newBuilder().setName("mlp").setVersion(1).build());
    List<ModelInfo> before = models();
    lethe.close();
    lethe = new ServerHarness(dir, LIMIT);
    assertEquals(before, models());
    assertEquals(1, models().get(0).getActiveVersion());
    assertArrayEquals(mlp.onnx(), download("mlp", 0, 0));
    assertArrayEquals(Fixtures.mlp(12).onnx(), download("mlp", 2, 0));
  }

  @Test
  void healthIsServingWhileRunning() {
    HealthCheckResponse r = HealthGrpc.newBlockingStub(lethe.channel)
        .check(HealthCheckRequest.newBuilder().setService("lethe.v1.ModelStore").build());
    assertEquals(HealthCheckResponse.ServingStatus.SERVING, r.getStatus());
  }

  // ---- PutModel errors ------------------------------------------------------------------------

  @Test
  void malformedOnnxIsInvalid() {
    assertRefused(Status.Code.INVALID_ARGUMENT, "chunk",
        () -> lethe.put(spec("bad"), new byte[] {8, 1, 0x3a, 5, 1, 2}));
  }

  @Test
  void missingLogitsOutputIsInvalid() {
    ModelSpec s = spec("m").toBuilder().setLogitsOutput("nope").build();
    assertRefused(Status.Code.INVALID_ARGUMENT, "spec.logits_output", () -> lethe.put(s, mlp.onnx()));
  }

  @Test
  void erasableParameterMustBeAFloatInitializer() {
    ModelSpec unknown = spec("m").toBuilder().addErasableParameters("W9").build();
    assertRefused(Status.Code.INVALID_ARGUMENT, "spec.erasable_parameters",
        () -> lethe.put(unknown, mlp.onnx()));
    byte[] withShape = new OnnxBuilder("r")
        .floatInput("x", -1, 4)
        .initializer("W", new float[12], 3, 4)
        .int64Initializer("shape", new long[] {-1, 3}, 2)
        .node("Gemm", new String[] {"x", "W"}, new String[] {"h"}, "transB", 1L)
        .node("Reshape", "logits", "h", "shape")
        .floatOutput("logits", -1, 3)
        .toBytes();
    ModelSpec intParam = spec("m").toBuilder().addErasableParameters("shape").build();
    assertRefused(Status.Code.INVALID_ARGUMENT, "spec.erasable_parameters",
        () -> lethe.put(intParam, withShape));
  }

  @Test
  void chunkBeforeSpecAndTwoSpecsAreInvalid() {
    assertRefused(Status.Code.INVALID_ARGUMENT, "chunk",
        () -> lethe.put(List.of(ServerHarness.chunk(mlp.onnx()), ServerHarness.spec(spec("m")))));
    assertRefused(Status.Code.INVALID_ARGUMENT, "spec",
        () -> lethe.put(List.of(ServerHarness.spec(spec("m")), ServerHarness.spec(spec("m")),
            ServerHarness.chunk(mlp.onnx()))));
    assertRefused(Status.Code.INVALID_ARGUMENT, "spec", () -> lethe.put(List.of()));
    assertRefused(Status.Code.INVALID_ARGUMENT, "chunk",
        () -> lethe.put(List.of(ServerHarness.spec(spec("m")))));
  }

  @Test
  void badSpecFieldsAreInvalid() {
    assertRefused(Status.Code.INVALID_ARGUMENT, "spec.name",
        () -> lethe.put(spec("../etc"), mlp.onnx()));
    assertRefused(Status.Code.INVALID_ARGUMENT, "spec.loss",
        () -> lethe.put(spec("m").toBuilder().setLoss(Loss.LOSS_UNSPECIFIED).build(), mlp.onnx()));
    assertRefused(Status.Code.INVALID_ARGUMENT, "spec.l2",
        () -> lethe.put(spec("m").toBuilder().setL2(Double.NaN).build(), mlp.onnx()));
  }

  @Test
  void oversizedUploadIsResourceExhausted() {
    byte[] big = new byte[(int) LIMIT / 2 + 1];
    assertRefused(Status.Code.RESOURCE_EXHAUSTED, "chunk",
        () -> lethe.put(List.of(ServerHarness.spec(spec("m")), ServerHarness.chunk(big),
            ServerHarness.chunk(big))));
  }

  @Test
  void otherGraphUnderExistingNameIsAlreadyExists() {
    lethe.put(spec("mlp"), mlp.onnx());
    byte[] other = new OnnxBuilder("other")
        .floatInput("x", -1, 4)
        .initializer("W", new float[12], 3, 4)
        .node("Gemm", new String[] {"x", "W"}, new String[] {"logits"}, "transB", 1L)
        .floatOutput("logits", -1, 3)
        .toBytes();
    assertRefused(Status.Code.ALREADY_EXISTS, "mlp", () -> lethe.put(spec("mlp"), other));
  }

  // ---- lookups ----------------------------------------------------------------------------------

  @Test
  void unknownModelOrVersionIsNotFound() {
    lethe.put(spec("mlp"), mlp.onnx());
    assertRefused(Status.Code.NOT_FOUND, "nope",
        () -> download("nope", 0, 0));
    assertRefused(Status.Code.NOT_FOUND, "version 7",
        () -> download("mlp", 7, 0));
    assertRefused(Status.Code.NOT_FOUND, "version 7",
        () -> lethe.blocking.setActiveVersion(
            SetActiveVersionRequest.newBuilder().setName("mlp").setVersion(7).build()));
    assertRefused(Status.Code.NOT_FOUND, "nope",
        () -> lethe.blocking.watchModel(WatchModelRequest.newBuilder().setName("nope").build()).next());
    assertRefused(Status.Code.NOT_FOUND, "nope",
        () -> lethe.blocking.evaluate(EvaluateRequest.newBuilder().setName("nope")
            .setSamples(SampleMessages.batch(Fixtures.batch(1, 2))).build()));
  }

  // ---- Evaluate errors --------------------------------------------------------------------------

  private void evaluateRefused(String field, SampleBatch samples) {
    assertRefused(Status.Code.INVALID_ARGUMENT, field,
        () -> lethe.blocking.evaluate(
            EvaluateRequest.newBuilder().setName("mlp").setSamples(samples).build()));
  }

  @Test
  void badSamplesAreInvalid() {
    lethe.put(spec("mlp"), mlp.onnx());
    SampleBatch good = SampleMessages.batch(Fixtures.batch(1, 4));
    Tensor x = good.getInputsOrThrow("x");
    evaluateRefused("samples.labels", good.toBuilder()
        .setLabels(Tensor.newBuilder().addDims(4).addAllFloatData(List.of(0f, 1f, 2f, 0f))).build());
    evaluateRefused("samples.labels", good.toBuilder()
        .setLabels(Tensor.newBuilder().addDims(4).addAllInt64Data(List.of(0L, 1L, 3L, 0L))).build());
    evaluateRefused("samples.labels", good.toBuilder()
        .setLabels(Tensor.newBuilder().addDims(3).addAllInt64Data(List.of(0L, 1L, 2L))).build());
    evaluateRefused("samples.labels", good.toBuilder().clearLabels().build());
    evaluateRefused("samples.inputs[x]", good.toBuilder()
        .putInputs("x", x.toBuilder().setFloatData(5, Float.NaN).build()).build());
    evaluateRefused("samples.inputs[x]", good.toBuilder()
        .putInputs("x", x.toBuilder().setFloatData(5, Float.POSITIVE_INFINITY).build()).build());
    evaluateRefused("samples.inputs[x]", good.toBuilder()
        .putInputs("x", x.toBuilder().clearDims().addDims(2).addDims(8).build()).build());
    evaluateRefused("samples.inputs[x]", good.toBuilder()
        .putInputs("x", x.toBuilder().clearFloatData().addFloatData(1f).build()).build());
    evaluateRefused("samples.inputs[y]", good.toBuilder().putInputs("y", x).build());
    evaluateRefused("samples.ids", good.toBuilder().addIds("extra").build());
  }

  @Test
  void eraseChecksIdsAndNeedsAFisher() {
    lethe.put(spec("mlp"), mlp.onnx());
    SampleBatch samples = SampleMessages.batch(Fixtures.batch(3, 4));
    assertRefused(Status.Code.FAILED_PRECONDITION, "BuildFisher", () -> lethe.blocking.erase(
        EraseRequest.newBuilder().setName("mlp").setSamples(samples).build()));
    assertRefused(Status.Code.INVALID_ARGUMENT, "samples.ids", () -> lethe.blocking.erase(
        EraseRequest.newBuilder().setName("mlp").setSamples(samples.toBuilder().clearIds()).build()));
    assertRefused(Status.Code.INVALID_ARGUMENT, "samples.ids", () -> lethe.blocking.erase(
        EraseRequest.newBuilder().setName("mlp")
            .setSamples(samples.toBuilder().setIds(1, "s0")).build()));
    assertRefused(Status.Code.INVALID_ARGUMENT, "samples", () -> lethe.blocking.erase(
        EraseRequest.newBuilder().setName("mlp").build()));
    assertRefused(Status.Code.NOT_FOUND, "nope", () -> lethe.blocking.erase(
        EraseRequest.newBuilder().setName("nope").setSamples(samples).build()));
    assertRefused(Status.Code.FAILED_PRECONDITION, "expected_version", () -> lethe.blocking.erase(
        EraseRequest.newBuilder().setName("mlp").setSamples(samples).setExpectedVersion(7).build()));
  }

  @Test
  void zeroLengthChunksAreHarmless() {
    ModelInfo info = lethe.put(List.of(ServerHarness.spec(spec("m")),
        dev.lethe.api.v1.PutModelRequest.newBuilder().setChunk(ByteString.EMPTY).build(),
        ServerHarness.chunk(mlp.onnx())));
    assertFalse(info.getVersionsList().isEmpty());
  }

  @Test
  void listErasuresPagesAnEmptyLedgerAndChecksItsArguments() {
    lethe.put(spec("mlp"), mlp.onnx());
    var r = lethe.blocking.listErasures(ListErasuresRequest.newBuilder().setName("mlp").build());
    assertEquals(0, r.getErasuresCount());
    assertEquals("", r.getNextPageToken());
    assertRefused(Status.Code.INVALID_ARGUMENT, "page_token", () -> lethe.blocking.listErasures(
        ListErasuresRequest.newBuilder().setName("mlp").setPageToken("xyz").build()));
    assertRefused(Status.Code.INVALID_ARGUMENT, "page_size", () -> lethe.blocking.listErasures(
        ListErasuresRequest.newBuilder().setName("mlp").setPageSize(-1).build()));
    assertRefused(Status.Code.NOT_FOUND, "nope", () -> lethe.blocking.listErasures(
        ListErasuresRequest.newBuilder().setName("nope").build()));
  }
}
