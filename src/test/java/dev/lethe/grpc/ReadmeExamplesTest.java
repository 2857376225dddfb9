package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.lethe.api.v1.EvaluateRequest;
import dev.lethe.api.v1.EvaluateResponse;
import dev.lethe.api.v1.GetModelRequest;
import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.ModelChunk;
import dev.lethe.api.v1.PutModelRequest;
import dev.lethe.api.v1.SetActiveVersionRequest;
import dev.lethe.api.v1.WatchModelRequest;
import dev.lethe.demo.DemoModel;
import dev.lethe.demo.DigitsDemo;
import dev.lethe.testing.Fixtures;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's grpcurl examples: each JSON body parses into its request message (so the field
 * names match the proto, as reflection serves it) and the call succeeds against a server with
 * the demo model.
 */
class ReadmeExamplesTest {
  private static final Pattern UNARY =
      Pattern.compile("grpcurl -plaintext -d '(.*?)' localhost:50051 ([\\w.]+)/(\\w+)");
  @TempDir Path dir;

  private static <T extends Message.Builder> T parse(String json, T builder) throws Exception {
    JsonFormat.parser().merge(json, builder);
    return builder;
  }

  @Test
  void everyExampleParsesAndRuns() throws Exception {
    String readme = Files.readString(Path.of("README.md"));
    DemoModel demo = DigitsDemo.train();
    try (ServerHarness lethe = new ServerHarness(dir, 1 << 20,
        store -> store.put(demo.spec(), demo.onnx()))) {
      // The workflow's BuildFisher example: a client stream of JSON lines from a heredoc.
      Matcher heredoc = Pattern.compile(
          "lethe.v1.ModelStore/BuildFisher <<'EOF'\\n(.*?)\\n\\s*EOF", Pattern.DOTALL).matcher(readme);
      assertTrue(heredoc.find(), "README has the BuildFisher example");
      List<dev.lethe.api.v1.BuildFisherRequest> stream = new ArrayList<>();
      for (String line : heredoc.group(1).split("\\n")) {
        stream.add(parse(line.trim(), dev.lethe.api.v1.BuildFisherRequest.newBuilder()).build());
      }
      assertTrue(new FisherStreams(lethe).buildFisher(stream).getDone());

      Matcher m = UNARY.matcher(readme);
      List<String> ran = new ArrayList<>();
      while (m.find()) {
        String json = m.group(1);
        String method = m.group(2) + "/" + m.group(3);
        switch (method) {
          case "grpc.health.v1.Health/Check" -> assertEquals(HealthCheckResponse.ServingStatus.SERVING,
              HealthGrpc.newBlockingStub(lethe.channel)
                  .check(parse(json, HealthCheckRequest.newBuilder()).build()).getStatus());
          case "lethe.v1.ModelStore/ListModels" -> assertEquals("digits",
              lethe.blocking.listModels(parse(json, ListModelsRequest.newBuilder()).build())
                  .getModels(0).getName());
          case "lethe.v1.ModelStore/GetModel" -> {
            Iterator<ModelChunk> it =
                lethe.blocking.getModel(parse(json, GetModelRequest.newBuilder()).build());
            assertEquals("digits", it.next().getHeader().getName());
            it.forEachRemaining(c -> {});
          }
          case "lethe.v1.ModelStore/WatchModel" -> {
            io.grpc.Context.CancellableContext ctx = io.grpc.Context.current().withCancellation();
            try {
              WatchModelRequest request = parse(json, WatchModelRequest.newBuilder()).build();
              ctx.run(() -> assertEquals(1,
                  lethe.blocking.watchModel(request).next().getActiveVersion()));
            } finally {
              ctx.cancel(null);
            }
          }
          case "lethe.v1.ModelStore/SetActiveVersion" -> assertEquals(1, lethe.blocking
              .setActiveVersion(parse(json, SetActiveVersionRequest.newBuilder()).build())
              .getActiveVersion());
          case "lethe.v1.ModelStore/SetScale" -> {
            dev.lethe.api.v1.SetScaleRequest request =
                parse(json, dev.lethe.api.v1.SetScaleRequest.newBuilder()).build();
            int versions = lethe.blocking.listModels(ListModelsRequest.getDefaultInstance())
                .getModels(0).getVersionsCount();
            dev.lethe.api.v1.ModelInfo info = lethe.blocking.setScale(request);
            assertTrue(request.getScale() > 0 && request.getScale() != 1.0, json);
            assertEquals(request.getScale(), info.getSpec().getScale());
            assertEquals(versions, info.getVersionsCount()); // no version made
          }
          case "lethe.v1.ModelStore/Evaluate" -> {
            EvaluateResponse r =
                lethe.blocking.evaluate(parse(json, EvaluateRequest.newBuilder()).build());
            assertEquals(2, r.getLossesCount());
            assertEquals(1.0, r.getAccuracy()); // both digits are classified right
          }
          case "lethe.v1.ModelStore/ListErasures" -> assertEquals(1, lethe.blocking
              .listErasures(parse(json, dev.lethe.api.v1.ListErasuresRequest.newBuilder()).build())
              .getErasuresCount());
          case "lethe.v1.ModelStore/CheckErasure" -> {
            var r = lethe.blocking.checkErasure(
                parse(json, dev.lethe.api.v1.CheckErasureRequest.newBuilder()).build());
            // The Erase example above erased digits:2; digits:3 was never erased.
            assertEquals(List.of(true, false), r.getStatusesList().stream()
                .map(x -> x.getErased()).toList());
            assertEquals(2, r.getStatuses(0).getVersion());
            assertEquals("gdpr-0001", r.getStatuses(0).getRequestId());
          }
          case "lethe.v1.ModelStore/Gradients" -> {
            var r = lethe.blocking.gradients(
                parse(json, dev.lethe.api.v1.GradientsRequest.newBuilder()).build());
            assertEquals(2, r.getNormsCount());
            assertTrue(r.getNorms(0) > 0);
          }
          case "lethe.v1.ModelStore/Erase" -> {
            dev.lethe.api.v1.EraseRequest request =
                parse(json, dev.lethe.api.v1.EraseRequest.newBuilder()).build();
            var r = lethe.blocking.erase(request);
            assertEquals(1, r.getErased());
            assertEquals(request.getDryRun() ? 1 : 2, r.getVersion());
          }
          default -> throw new AssertionError("README example for " + method + " is not checked");
        }
        ran.add(method);
      }
      assertEquals(12, ran.size(), ran.toString());

      // The PutModel example: a spec line, then the file base64-encoded in one chunk message.
      Matcher spec = Pattern.compile("echo '(\\{\"spec\".*?)'").matcher(readme);
      assertTrue(spec.find());
      String chunk = "{\"chunk\": \"" + Base64.getEncoder().encodeToString(Fixtures.mlp(1).onnx())
          + "\"}";
      assertTrue(readme.contains("echo \"{\\\"chunk\\\": \\\"$(base64 -w0 model.onnx)\\\"}\""));
      PutModelRequest specMessage = parse(spec.group(1), PutModelRequest.newBuilder()).build();
      PutModelRequest chunkMessage = parse(chunk, PutModelRequest.newBuilder()).build();
      assertEquals("mine", lethe.put(List.of(specMessage, chunkMessage)).getName());
    }
  }
}
