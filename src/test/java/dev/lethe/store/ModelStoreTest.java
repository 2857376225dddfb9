package dev.lethe.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import dev.lethe.core.LetheException;
import dev.lethe.core.Samples;
import dev.lethe.eval.Evaluation;
import dev.lethe.storage.LetheDb;
import dev.lethe.testing.Fixtures;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelStoreTest {
  private static final double LOSS_TOLERANCE = 1e-5;
  @TempDir Path dir;

  private <T> T withStore(int retention, Function<ModelStore, T> body) {
    try (LetheDb db = LetheDb.open(dir);
        ModelStore store = new ModelStore(db, OrtEnvironment.getEnvironment(),
            new StoreConfig(retention, 1 << 20))) {
      return body.apply(store);
    }
  }

  private static byte[] read(ModelStore store, String name, long version) {
    try (ModelFile f = store.open(name, version)) {
      byte[] bytes = f.content().readAllBytes();
      assertEquals(f.sizeBytes(), bytes.length);
      assertEquals(dev.lethe.core.Sha256.hex(bytes), f.sha256());
      return bytes;
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void uploadRoundTripsBitExactlyAndPersistsAcrossReopen() {
    Fixtures.Mlp a = Fixtures.mlp(1);
    Fixtures.Mlp b = Fixtures.mlp(2);
    withStore(10, store -> {
      ModelState info = store.put(Fixtures.spec("m"), a.onnx());
      assertEquals(1, info.activeVersion());
      assertEquals(List.of("W1", "b1", "W2", "b2"), info.spec().erasableParameters());
      assertEquals(12 + 3 + 9 + 3, info.parameterCount());
      assertArrayEquals(new long[] {3}, info.outputDims());
      store.put(Fixtures.spec("m").withTrainSize(90), b.onnx());
      store.setActive("m", 1, false);
      return null;
    });
    withStore(10, store -> {
      ModelState info = store.info("m");
      assertEquals(1, info.activeVersion());
      assertEquals(100, info.trainSize());
      assertEquals(2, info.versions().size());
      assertEquals(90, info.versions().get(1).trainSize());
      assertArrayEquals(a.onnx(), read(store, "m", 0));
      assertArrayEquals(b.onnx(), read(store, "m", 2));
      return null;
    });
  }

  @Test
  void evaluateMatchesIndependentForwardPass() {
    Fixtures.Mlp a = Fixtures.mlp(3);
    Samples batch = Fixtures.batch(4, 7);
    Evaluation ev = withStore(10, store -> {
      store.put(Fixtures.spec("m"), a.onnx());
      return store.evaluate("m", 0, batch);
    });
    float[] x = batch.inputs().get("x").floats();
    int correct = 0;
    for (int i = 0; i < 7; i++) {
      double[] z = a.logits(java.util.Arrays.copyOfRange(x, i * 4, i * 4 + 4));
      double max = Math.max(z[0], Math.max(z[1], z[2]));
      double lse = max + Math.log(Math.exp(z[0] - max) + Math.exp(z[1] - max) + Math.exp(z[2] - max));
      int y = (int) batch.labels().longs()[i];
      assertEquals(lse - z[y], ev.losses()[i], LOSS_TOLERANCE);
      int argmax = z[0] >= z[1] && z[0] >= z[2] ? 0 : (z[1] >= z[2] ? 1 : 2);
      correct += argmax == y ? 1 : 0;
    }
    assertEquals(correct / 7.0, ev.accuracy(), 1e-12);
    assertEquals(3, ev.auc().length);
  }

  @Test
  void retentionDropsOldestButNeverTheActive() {
    withStore(2, store -> {
      store.put(Fixtures.spec("m"), Fixtures.mlp(1).onnx());
      store.put(Fixtures.spec("m"), Fixtures.mlp(2).onnx());
      store.setActive("m", 1, false);
      store.put(Fixtures.spec("m"), Fixtures.mlp(3).onnx());
      List<Long> kept = store.info("m").versions().stream().map(VersionState::version).toList();
      assertEquals(List.of(3L), kept.subList(kept.size() - 1, kept.size()));
      assertEquals(2, kept.size());
      LetheException e = assertThrows(LetheException.class, () -> store.open("m", 1));
      assertEquals(LetheException.Kind.NOT_FOUND, e.kind());
      return null;
    });
  }

  @Test
  void watchSeesCurrentStateThenChanges() throws Exception {
    withStore(10, store -> {
      store.put(Fixtures.spec("m"), Fixtures.mlp(1).onnx());
      List<Long> seen = new ArrayList<>();
      try (AutoCloseable w = store.watch("m", i -> seen.add(i.activeVersion()))) {
        store.put(Fixtures.spec("m"), Fixtures.mlp(2).onnx());
        store.setActive("m", 1, false);
      } catch (Exception e) {
        throw new AssertionError(e);
      }
      store.setActive("m", 2, false);
      assertEquals(List.of(1L, 2L, 1L), seen);
      return null;
    });
  }

  @Test
  void differentGraphUnderSameNameIsRefusedAndChangesNothing() {
    withStore(10, store -> {
      store.put(Fixtures.spec("m"), Fixtures.mlp(1).onnx());
      byte[] other = new dev.lethe.onnx.OnnxBuilder("other")
          .floatInput("x", -1, 4)
          .initializer("W", new float[12], 3, 4)
          .node("MatMul", "t", "x", "Wt")
          .node("Transpose", new String[] {"W"}, new String[] {"Wt"})
          .floatOutput("t", -1, 3)
          .toBytes();
      LetheException e = assertThrows(LetheException.class,
          () -> store.put(Fixtures.spec("m").withLogitsOutput("t"), other));
      assertEquals(LetheException.Kind.ALREADY_EXISTS, e.kind());
      assertEquals(1, store.info("m").versions().size());
      return null;
    });
  }

  @Test
  void exportWithBatchFixedToOneIsEvaluatedSampleBySample() {
    float[] w = {1, 0, 0, 1, 1, -1};
    byte[] onnx = new dev.lethe.onnx.OnnxBuilder("fixed")
        .floatInput("x", 1, 2)
        .initializer("W", w, 3, 2)
        .node("Gemm", new String[] {"x", "W"}, new String[] {"logits"}, "transB", 1L)
        .floatOutput("logits", 1, 3)
        .toBytes();
    Samples batch = new Samples(List.of(),
        java.util.Map.of("x", dev.lethe.core.DenseTensor.ofFloats(new long[] {3, 2},
            new float[] {1, 2, 3, -1, 0, 0})),
        dev.lethe.core.DenseTensor.ofLongs(new long[] {3}, new long[] {1, 0, 2}));
    Evaluation ev = withStore(10, store -> {
      store.put(Fixtures.spec("fixed").withLogitsOutput(""), onnx);
      return store.evaluate("fixed", 0, batch);
    });
    // logits per sample: (x0, x1, x0 - x1)
    double[][] z = {{1, 2, -1}, {3, -1, 4}, {0, 0, 0}};
    int[] y = {1, 0, 2};
    for (int i = 0; i < 3; i++) {
      double lse = Math.log(Math.exp(z[i][0]) + Math.exp(z[i][1]) + Math.exp(z[i][2]));
      assertEquals(lse - z[i][y[i]], ev.losses()[i], LOSS_TOLERANCE);
    }
  }

  @Test
  void fullGradientsBeyondTheResponseLimitAreResourceExhausted() {
    withStore(10, store -> {
      store.put(Fixtures.spec("m"), Fixtures.mlp(1).onnx());
      Samples batch = Fixtures.batch(1, 10); // 10 x 27 floats = 1080 bytes
      LetheException e = assertThrows(LetheException.class,
          () -> store.gradients("m", 0, batch, true, 1000));
      assertEquals(LetheException.Kind.RESOURCE_EXHAUSTED, e.kind());
      assertEquals(10, store.gradients("m", 0, batch, false, 1000).result().norms().length);
      assertEquals(270, store.gradients("m", 0, batch, true, 1080).result().gradients().length);
      return null;
    });
  }
}
