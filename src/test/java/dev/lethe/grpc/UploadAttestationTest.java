package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.CheckErasureRequest;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.Erasure;
import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelSpec;
import dev.lethe.api.v1.VersionInfo;
import dev.lethe.core.Samples;
import dev.lethe.testing.Fixtures;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #14 finding 5 through the real server: re-uploading the pre-erasure file no longer
 * silently brings erased samples back; a new version while erasures are in effect needs the
 * uploader's attestation, which is recorded with the version, and the erased ids stay erased.
 */
class UploadAttestationTest {
  private static final String MODEL = "mlp";
  private static final int N = 30;
  @TempDir Path dir;
  private final Samples train = Fixtures.batch(9, N);
  private final byte[] original = Fixtures.mlp(8).onnx();

  @Test
  void aNewVersionOverErasuresNeedsTheAttestation() throws Exception {
    try (ServerHarness h = new ServerHarness(dir, 1 << 20)) {
      ModelSpec spec = ModelMessages.spec(Fixtures.spec(MODEL).withTrainSize(N));
      h.put(spec, original);
      // Without erasures a new version needs no attestation (as before).
      ModelInfo v2 = h.put(spec, original);
      assertEquals(2, v2.getActiveVersion());
      assertFalse(EraseRpc.version(v2, 2).getTrainedWithoutErased());
      EraseRpc.buildFisher(h.async, MODEL, train);
      EraseResponse erased = h.blocking.erase(EraseRpc.erase(MODEL, "r1", train, 0, 1, 2));
      assertEquals(3, erased.getErased());
      List<ModelInfo> before = h.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsList();
      List<Erasure> ledger = EraseRpc.ledger(h.blocking, MODEL);
      // Finding 5: the pre-erasure file with train_size back to N.
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> h.put(spec, original));
      assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode(), e.getStatus().toString());
      assertTrue(e.getStatus().getDescription().startsWith("spec.trained_without_erased: 3 erased sample ids"),
          e.getStatus().getDescription());
      assertEquals(before, h.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsList());
      assertEquals(ledger, EraseRpc.ledger(h.blocking, MODEL));
      // Attested: accepted, recorded with the version; the erased ids stay erased.
      ModelSpec attested = spec.toBuilder().setTrainSize(N - 3).setTrainedWithoutErased(true).build();
      ModelInfo v4 = h.put(attested, Fixtures.mlp(8).onnx());
      VersionInfo recorded = EraseRpc.version(v4, v4.getActiveVersion());
      assertEquals("upload", recorded.getOrigin());
      assertTrue(recorded.getTrainedWithoutErased());
      assertEquals(3, recorded.getErasedIdsAttested());
      assertEquals(N - 3, v4.getTrainSize());
      assertTrue(h.blocking.checkErasure(CheckErasureRequest.newBuilder().setName(MODEL)
          .addIds(train.ids().get(1)).build()).getStatuses(0).getErased());
      assertEquals(ledger, EraseRpc.ledger(h.blocking, MODEL));
      // A later erase of one of them is already done; a new id erases normally.
      EraseRpc.buildFisher(h.async, MODEL, dev.lethe.core.Batches.range(train, 3, N));
      EraseResponse again = h.blocking.erase(EraseRpc.erase(MODEL, "r2", train, 1, 5));
      assertEquals(List.of(train.ids().get(1)), again.getAlreadyErasedList());
      assertEquals(1, again.getErased());
    }
  }
}
