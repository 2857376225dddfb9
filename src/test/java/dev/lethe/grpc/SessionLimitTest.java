package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.ModelInfo;
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
      long previous = OrtSessions.setMaxMillis(1);
      StatusRuntimeException e;
      try {
        // 1 ms is shorter than any session creation takes
        e = assertThrows(StatusRuntimeException.class,
            () -> h.put(ModelMessages.spec(Fixtures.spec("slow")), Fixtures.mlp(1).onnx()));
      } finally {
        OrtSessions.setMaxMillis(previous);
      }
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.getStatus().toString());
      assertTrue(e.getStatus().getDescription().startsWith("chunk: ONNX Runtime took longer than"),
          e.getStatus().getDescription());
      assertTrue(e.getStatus().getDescription().contains("--max-session-seconds"));
      assertEquals(before, h.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsList());
      // the same upload goes through under the default limit
      assertEquals(1, h.put(ModelMessages.spec(Fixtures.spec("slow")), Fixtures.mlp(1).onnx())
          .getActiveVersion());
    }
  }
}
