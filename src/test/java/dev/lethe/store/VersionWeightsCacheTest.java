package dev.lethe.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lethe.core.LetheException;
import dev.lethe.onnx.ParameterSpec;
import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.records.ModelRecord;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which versions' weights a model's runtime keeps in memory ({@link ModelRuntime#weights}): the
 * {@link ModelRuntime#CACHED_VERSIONS} most recently used, and when an erase commits its new
 * version, the one its Fisher was built at beside it, so the next leave-out step does not read
 * it back. Observed by deleting the stored weights: a kept version still reads, an evicted one
 * is NOT_FOUND.
 */
class VersionWeightsCacheTest {
  @TempDir Path dir;

  @Test
  void anErasesCommitKeepsTheFishersVersionBesideTheNewOne() {
    ModelRecord record = ModelRecord.newBuilder().setName("m")
        .addParameters(Records.parameter(new ParameterSpec("w", new long[] {3}))).build();
    try (LetheDb db = LetheDb.open(dir)) {
      ModelRuntime runtime = new ModelRuntime(record, db, null);
      for (long v = 1; v <= 3; v++) {
        byte[] bytes = VersionWeights.bytesOf(new float[] {v, v, v});
        long version = v;
        db.write(b -> b.putBlob(Family.WEIGHTS, Keys.version("m", version), bytes));
      }
      runtime.weights(1); // the Fisher's version
      runtime.weights(2); // the active one, used last
      runtime.cache(VersionWeights.of(4, new float[] {4, 4, 4}, runtime.parameterOffsets()), 1);
      for (long v = 1; v <= 3; v++) {
        long version = v;
        db.write(b -> b.deletePrefix(Family.WEIGHTS, Keys.version("m", version)));
      }
      assertArrayEquals(new float[] {1, 1, 1}, runtime.weights(1).toArray());
      assertArrayEquals(new float[] {4, 4, 4}, runtime.weights(4).toArray());
      LetheException gone = assertThrows(LetheException.class, () -> runtime.weights(2));
      assertEquals(LetheException.Kind.NOT_FOUND, gone.kind());
      // without a version to keep, the least recently used goes (here version 4)
      runtime.weights(1);
      runtime.cache(VersionWeights.of(5, new float[] {5, 5, 5}, runtime.parameterOffsets()));
      assertArrayEquals(new float[] {1, 1, 1}, runtime.weights(1).toArray());
      assertThrows(LetheException.class, () -> runtime.weights(4));
    }
  }
}
