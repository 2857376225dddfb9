package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.onnx.OnnxBuilder;
import dev.lethe.onnx.OrtSessions;
import dev.lethe.testing.Fixtures;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ONNX Runtime's session creation is limited in time (--max-session-seconds): an upload it
 * takes longer to load is RESOURCE_EXHAUSTED and registers nothing; the server keeps serving.
 */
class SessionLimitTest {
  @TempDir Path dir;

  @Test
  void anUploadOnnxRuntimeTakesTooLongToLoadIsRefusedAndChangesNothing() throws Exception {
    try (ServerHarness h = new ServerHarness(dir, 1 << 20)) {
      List<ModelInfo> before = h.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsList();
      // A linear model whose logits pass through a chain of 5 000 Identity nodes: ONNX Runtime
      // needs about a tenth of a second to load it, far more than the 5 ms allowed here.
      OnnxBuilder b = new OnnxBuilder("slow").floatInput("x", -1, 4)
          .initializer("W", new float[12], 3, 4)
          .node("Gemm", new String[] {"x", "W"}, new String[] {"logits"}, "transB", 1L);
      String last = "logits";
      for (int i = 0; i < 5_000; i++) {
        b.node("Identity", new String[] {last}, new String[] {"id" + i});
        last = "id" + i;
      }
      byte[] slow = b.floatOutput(last, -1, 3).toBytes();
      long previous = OrtSessions.setMaxMillis(5);
      StatusRuntimeException e;
      try {
        e = assertThrows(StatusRuntimeException.class,
            () -> h.put(ModelMessages.spec(Fixtures.spec("slow")), slow));
      } finally {
        OrtSessions.setMaxMillis(previous);
      }
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.getStatus().toString());
      assertTrue(e.getStatus().getDescription().startsWith("chunk: ONNX Runtime took longer than"),
          e.getStatus().getDescription());
      assertTrue(e.getStatus().getDescription().contains("--max-session-seconds"));
      assertEquals(before, h.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsList());
      // the same upload goes through under the default limit
      assertEquals(1, h.put(ModelMessages.spec(Fixtures.spec("slow")), slow).getActiveVersion());
    }
  }
}
