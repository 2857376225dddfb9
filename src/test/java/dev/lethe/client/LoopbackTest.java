package dev.lethe.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.lethe.core.Batches;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;
import dev.lethe.erase.EraseCommand;
import dev.lethe.core.EraseOutcome;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.InversionMethod;
import dev.lethe.onnx.OnnxBuilder;
import dev.lethe.server.LetheServer;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.ModelState;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real Netty server on loopback, driven by {@link LetheClient}. */
class LoopbackTest {
  private static final float PROBABILITY_TOLERANCE = 1e-5f;
  @TempDir Path dir;
  private LetheServer server;
  private LetheClient client;

  @BeforeEach
  void start() throws Exception {
    ServerConfig config = new ServerConfig("127.0.0.1:0", dir, new StoreConfig(10, 512L << 20),
        64 << 20, false, 5);
    server = new LetheServer(config,
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)), s -> {}).start();
    client = new LetheClient("127.0.0.1:" + server.port());
  }

  @AfterEach
  void stop() throws Exception {
    client.close();
    server.stop();
  }

  @Test
  void modelOver100MbRoundTripsBitExactly() throws Exception {
    int out = 6400;
    int in = 4096; // 26.2 M floats = 104.9 MB of weights
    float[] w = new float[out * in];
    Random r = new Random(7);
    for (int i = 0; i < w.length; i++) {
      w[i] = r.nextFloat() - 0.5f;
    }
    byte[] onnx = new OnnxBuilder("big")
        .floatInput("x", -1, in)
        .initializer("W", w, out, in)
        .node("Gemm", new String[] {"x", "W"}, new String[] {"y"}, "transB", 1L)
        .floatOutput("y", -1, out)
        .toBytes();
    w = null;
    assertTrue(onnx.length > 100_000_000, "fixture is " + onnx.length + " bytes");
    ModelState put = client.putModel(
        new ModelConfig("big", LossFunction.MEAN_SQUARED_ERROR, "", List.of(), 1000, 0, 0, 0, 0, 0),
        new ByteArrayInputStream(onnx));
    assertEquals(26214400, put.parameterCount());
    ByteArrayOutputStream download = new ByteArrayOutputStream(onnx.length);
    LetheClient.Download d = client.getModel("big", 0, download);
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    assertEquals(HexFormat.of().formatHex(md.digest(onnx)), d.sha256());
    assertEquals(onnx.length, d.sizeBytes());
    assertArrayEquals(onnx, download.toByteArray());
  }

  @Test
  void servedFileRunsInOnnxRuntimeWithTheVersionsWeights() throws Exception {
    Fixtures.Mlp v1 = Fixtures.mlp(21);
    Fixtures.Mlp v2 = Fixtures.mlp(22);
    client.putModel(Fixtures.spec("mlp"), new ByteArrayInputStream(v1.onnx()));
    client.putModel(Fixtures.spec("mlp"), new ByteArrayInputStream(v2.onnx()));
    for (Fixtures.Mlp version : List.of(v1, v2)) {
      ByteArrayOutputStream file = new ByteArrayOutputStream();
      client.getModel("mlp", version == v1 ? 1 : 2, file);
      float[] x = Fixtures.random(new Random(3), 2 * Fixtures.IN);
      OrtEnvironment env = OrtEnvironment.getEnvironment();
      try (OrtSession session = env.createSession(file.toByteArray(), new OrtSession.SessionOptions());
          OnnxTensor input = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {2, Fixtures.IN});
          OrtSession.Result result = session.run(Map.of("x", input))) {
        float[][] probs = (float[][]) result.get(0).getValue();
        for (int i = 0; i < 2; i++) {
          double[] z = version.logits(Arrays.copyOfRange(x, i * 4, i * 4 + 4));
          double sum = Math.exp(z[0]) + Math.exp(z[1]) + Math.exp(z[2]);
          for (int k = 0; k < 3; k++) {
            assertEquals(Math.exp(z[k]) / sum, probs[i][k], PROBABILITY_TOLERANCE);
          }
        }
      }
    }
  }

  @Test
  void clientReportsStatusCodes() {
    RemoteException e = assertThrows(RemoteException.class,
        () -> client.activate("missing", 1, false));
    assertEquals("NOT_FOUND", e.code());
  }

  @Test
  void buildFisherStreamsBatchesThenEraseReportsItsStages() throws Exception {
    int n = 40;
    client.putModel(Fixtures.spec("mlp").withTrainSize(n),
        new ByteArrayInputStream(Fixtures.mlp(41).onnx()));
    Samples train = Fixtures.batch(42, n);
    List<FisherProgress> seen = new CopyOnWriteArrayList<>();
    List<Samples> batches = new ArrayList<>();
    for (int from = 0; from < n; from += 7) {
      batches.add(Batches.range(train, from, Math.min(n, from + 7)));
    }
    FisherProgress last = client.buildFisher(new FisherRequest("mlp", CurvatureKind.EMPIRICAL,
        InversionMethod.GRAM, 10, 0, 0, 0, 0, n), batches.iterator(), seen::add);
    assertTrue(last.done());
    assertEquals(n, last.samplesSeen());
    assertEquals(1, last.summary().version());
    assertEquals(n, last.summary().samples());
    assertEquals(CurvatureKind.EMPIRICAL, last.summary().kind());
    assertEquals(InversionMethod.GRAM, last.summary().method());
    assertEquals(last, seen.get(seen.size() - 1));
    assertTrue(seen.size() >= 1 + batches.size(), "a progress message per batch: " + seen.size());

    EraseOutcome out = client.erase(new EraseCommand("mlp", "r1", Batches.range(train, 0, 3),
        false, 1, false));
    assertEquals(2, out.version());
    assertEquals(3, out.erased());
    assertTrue(out.timings().gradientsMs() > 0 && out.timings().solveMs() > 0
        && out.timings().storeMs() > 0, out.timings().toString());
    assertTrue(out.lossAfter() > out.lossBefore());

    RemoteException missing = assertThrows(RemoteException.class,
        () -> client.buildFisher(new FisherRequest("nope", CurvatureKind.EMPIRICAL,
            InversionMethod.GRAM, 0, 0, 0, 0, 0, n), batches.iterator(), p -> { }));
    assertEquals("NOT_FOUND", missing.code());
  }
}
