package dev.lethe.grpc;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lethe.api.v1.ModelSpec;
import dev.lethe.testing.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Coverage-guided fuzzing with Jazzer (issue #14 item 8) of the token-file parser, request
 * conversion and validation through the server, and ONNX registration, with the invariants of
 * {@link FuzzTargets}. In a normal {@code mvn test} Jazzer runs in regression mode: each target
 * on its seed inputs (src/test/resources/dev/lethe/grpc/JazzerFuzzTestInputs/&lt;method&gt;) and
 * on any crash files found before. To fuzz, run one target at a time with {@code JAZZER_FUZZ=1},
 * e.g. {@code JAZZER_FUZZ=1 mvn test -Dtest=JazzerFuzzTest#tokenFiles}; findings are written
 * next to the seeds and then replayed by every later {@code mvn test}.
 */
class JazzerFuzzTest {
  private static Path dir;
  private static ServerHarness server;
  private static final AtomicLong uploads = new AtomicLong();

  @BeforeAll
  static void start() throws Exception {
    dir = Files.createTempDirectory("lethe-fuzz");
    server = new ServerHarness(dir, 1 << 20);
    dev.lethe.core.Samples train = Fixtures.batch(5, 30);
    EraseRpc.put(server.async, Fixtures.spec("mlp").withTrainSize(30), Fixtures.mlp(6).onnx());
    EraseRpc.buildFisher(server.async, "mlp", train);
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @FuzzTest(maxDuration = "60s")
  void tokenFiles(byte[] data) {
    FuzzTargets.tokens(data);
  }

  @FuzzTest(maxDuration = "120s")
  void requests(byte[] data) {
    FuzzTargets.request(server, data);
  }

  @FuzzTest(maxDuration = "120s")
  void uploads(byte[] data) {
    ModelSpec spec = ModelMessages.spec(Fixtures.spec("fz" + uploads.incrementAndGet()));
    FuzzTargets.upload(server, spec, data);
  }
}
