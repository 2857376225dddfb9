package dev.lethe.grpc;

import dev.lethe.api.v1.CheckErasureRequest;
import dev.lethe.api.v1.EvaluateRequest;
import dev.lethe.api.v1.ModelSpec;
import dev.lethe.core.Samples;
import dev.lethe.testing.Fixtures;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bounded fuzz run of the normal suite (issue #14 item 8): seeded random mutations (flips,
 * truncations, splices) of valid inputs through {@link FuzzTargets}, so every {@code mvn test}
 * exercises the same invariants as the coverage-guided Jazzer runs ({@code JazzerFuzzTest},
 * longer runs with {@code JAZZER_FUZZ=1}, see docs/security.md). Reproducible: the seed is fixed.
 */
class FuzzRegressionTest {
  private static final int ROUNDS = Integer.getInteger("lethe.fuzzRounds", 400);
  @TempDir Path dir;
  private final Random random = new Random(14);

  /** {@code seed} with 1 to 8 random edits. */
  private byte[] mutate(byte[] seed) {
    byte[] b = seed.clone();
    int edits = 1 + random.nextInt(8);
    for (int e = 0; e < edits && b.length > 0; e++) {
      int at = random.nextInt(b.length);
      switch (random.nextInt(4)) {
        case 0 -> b[at] = (byte) random.nextInt(256);
        case 1 -> b[at] ^= (byte) (1 << random.nextInt(8));
        case 2 -> b = java.util.Arrays.copyOf(b, at);
        default -> {
          byte[] grown = new byte[b.length + 1];
          System.arraycopy(b, 0, grown, 0, at);
          grown[at] = (byte) random.nextInt(256);
          System.arraycopy(b, at, grown, at + 1, b.length - at);
          b = grown;
        }
      }
    }
    return b;
  }

  @Test
  void tokenFiles() {
    List<String> seeds = List.of("write abc\nread def\n", "# ops\nbare\n\n", "read \n",
        "write a b\n", "admin x\n", "\t write  tok \r\n");
    for (String s : seeds) {
      FuzzTargets.tokens(s.getBytes(StandardCharsets.UTF_8));
    }
    for (int i = 0; i < ROUNDS * 5; i++) {
      FuzzTargets.tokens(mutate(seeds.get(i % seeds.size()).getBytes(StandardCharsets.UTF_8)));
    }
  }

  @Test
  void requestsAndUploads() throws Exception {
    Samples train = Fixtures.batch(5, 30);
    try (ServerHarness h = new ServerHarness(dir, 1 << 20)) {
      EraseRpc.put(h.async, Fixtures.spec("mlp").withTrainSize(30), Fixtures.mlp(6).onnx());
      EraseRpc.buildFisher(h.async, "mlp", train);
      List<byte[]> seeds = List.of(
          prefixed(0, EraseRpc.erase("mlp", "q", train, 1, 2).toBuilder().setDryRun(true).build().toByteArray()),
          prefixed(1, EvaluateRequest.newBuilder().setName("mlp")
              .setSamples(SampleMessages.batch(dev.lethe.core.Batches.range(train, 0, 3))).build().toByteArray()),
          prefixed(2, CheckErasureRequest.newBuilder().setName("mlp").addIds("s1").build().toByteArray()));
      for (byte[] s : seeds) {
        FuzzTargets.request(h, s);
      }
      for (int i = 0; i < ROUNDS * 3; i++) {
        FuzzTargets.request(h, mutate(seeds.get(i % seeds.size())));
      }
      byte[] onnx = Fixtures.mlp(7).onnx();
      ModelSpec spec = ModelMessages.spec(Fixtures.spec("u"));
      for (int i = 0; i < ROUNDS / 8; i++) {
        FuzzTargets.upload(h, spec.toBuilder().setName("u" + i).build(), mutate(onnx));
      }
    }
  }

  static byte[] prefixed(int kind, byte[] body) {
    byte[] out = new byte[body.length + 1];
    out[0] = (byte) kind;
    System.arraycopy(body, 0, out, 1, body.length);
    return out;
  }
}
