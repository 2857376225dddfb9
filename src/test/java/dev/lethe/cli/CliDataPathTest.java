package dev.lethe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.JsonFormat;
import dev.lethe.api.v1.ListModelsResponse;
import dev.lethe.demo.DigitsDemo;
import dev.lethe.server.LetheServer;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.ModelState;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The CLI's data path and its consistency, through the real command line against a real sidecar
 * over loopback (the digits demo): build-fisher sends train_size rows, ids come from the user,
 * the spec's feature preprocessing is used and overridden, refusals exit 2 with one line and
 * change nothing, every command has --help, and the JSON is the proto JSON with proto names.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CliDataPathTest {
  private static final int DIGITS = 1797;
  @TempDir static Path dir;
  private LetheServer server;
  private String target;
  private Path csv;
  private Path ids;

  /** Exit code, stdout, stderr of one command. */
  record Result(int code, String out, String err) {
    String all() {
      return code + "\n" + out + err;
    }
  }

  static Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Main.commandLine();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(args);
    return new Result(code, out.toString(), err.toString());
  }

  private Result cli(String... args) {
    String[] withTarget = java.util.Arrays.copyOf(args, args.length + 2);
    withTarget[args.length] = "--target";
    withTarget[args.length + 1] = target;
    return run(withTarget);
  }

  @BeforeAll
  void start() throws Exception {
    ServerConfig config = new ServerConfig("127.0.0.1:0", dir.resolve("data"),
        StoreConfig.defaults(), 64 << 20, true, 5);
    server = new LetheServer(config,
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)),
        Demo.initializer(true)).start();
    target = "127.0.0.1:" + server.port();
    csv = dir.resolve("digits.csv.gz");
    try (InputStream in = DigitsDemo.class.getResourceAsStream("digits.csv.gz")) {
      Files.copy(in, csv);
    }
    ids = dir.resolve("digits.ids");
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < DIGITS; i++) {
      b.append("subject-").append(i).append('\n');
    }
    Files.writeString(ids, b);
  }

  @AfterAll
  void stop() throws Exception {
    server.stop();
  }

  private static List<String> lines(Path gz) throws Exception {
    try (InputStream in = new GZIPInputStream(Files.newInputStream(gz))) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
    }
  }

  private static void writeGz(Path file, List<String> lines) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (OutputStream out = new GZIPOutputStream(bytes)) {
      out.write((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
    }
    Files.write(file, bytes.toByteArray());
  }

  private ModelState digits() {
    return server.store().info("digits");
  }

  @Test
  @Order(1)
  void everyCommandHasHelp() {
    for (String name : List.of("get-model", "score", "gradients", "build-fisher")) {
      Result r = run(name, "--help");
      assertEquals(0, r.code(), name + ": " + r.all());
      assertTrue(r.out().startsWith("Usage: lethe " + name), r.all());
      assertFalse(r.all().contains("Missing required"), r.all());
    }
    for (String name : Main.commandLine().getSubcommands().keySet()) {
      if (name.equals("help")) {
        continue;
      }
      Result r = run(name, "--help");
      assertEquals(0, r.code(), name + ": " + r.all());
      assertTrue(r.out().startsWith("Usage: lethe " + name), name + ": " + r.all());
    }
  }

  @Test
  @Order(2)
  void jsonIsTheProtoJsonWithProtoFieldNames() throws Exception {
    Result r = cli("models");
    assertEquals(0, r.code(), r.all());
    assertTrue(r.out().contains("\"active_version\": \"1\"") && r.out().contains("\"train_size\""),
        r.out());
    Matcher keys = Pattern.compile("\"(\\w+)\":").matcher(r.out());
    int n = 0;
    while (keys.find()) {
      assertTrue(keys.group(1).matches("[a-z0-9_]+"), "not a proto field name: " + keys.group(1));
      n++;
    }
    assertTrue(n > 20, r.out());
    // numbers as grpcurl writes them: 0.001 and 16, not 1.0E-3 and 16.0
    assertTrue(r.out().contains("\"l2\": 0.001,") && r.out().contains("\"feature_max\": 16"),
        r.out());
    assertFalse(r.out().contains("E-") || r.out().contains(".0,"), r.out());
    ListModelsResponse.Builder parsed = ListModelsResponse.newBuilder();
    JsonFormat.parser().merge(r.out(), parsed);
    assertEquals("digits", parsed.getModels(0).getName());
    assertEquals(16, parsed.getModels(0).getSpec().getFeatureMax()); // the demo's declared range
  }

  @Test
  @Order(3)
  void buildFisherSendsTrainSizeRowsAndRefusesFewer() throws Exception {
    List<String> rows = lines(csv);
    Path shorter = dir.resolve("short.csv.gz");
    writeGz(shorter, rows.subList(0, 1000));
    String fisherBefore = String.valueOf(digits().fisher());
    Result refused = cli("build-fisher", "--model", "digits", "--data", shorter.toString());
    assertEquals(2, refused.code(), refused.all());
    assertTrue(refused.err().startsWith("error: --data: ") && refused.err().contains(
        "has 1000 rows but model 'digits' version 1 was trained on 1797 (train_size)"),
        refused.err());
    assertEquals(1, refused.err().lines().count(), refused.err());
    assertEquals(fisherBefore, String.valueOf(digits().fisher())); // nothing changed

    Path longer = dir.resolve("longer.csv.gz"); // 60 000-images-style: more rows than trained on
    List<String> doubled = new java.util.ArrayList<>(rows);
    doubled.addAll(rows);
    writeGz(longer, doubled);
    Result built = cli("build-fisher", "--model", "digits", "--data", longer.toString());
    assertEquals(0, built.code(), built.all());
    assertTrue(built.out().contains("digits version 1: 1797 samples"), built.out());
    assertTrue(built.err().contains("note: sending the first 1797 of 3594 rows"), built.err());
    assertEquals(DIGITS, digits().fisher().samples());

    Result limited = cli("build-fisher", "--model", "digits", "--data", csv.toString(),
        "--limit", "300");
    assertEquals(0, limited.code(), limited.all());
    assertEquals(300, digits().fisher().samples());
    Result ranged = cli("build-fisher", "--model", "digits", "--data", longer.toString(),
        "--rows", "1797-3593");
    assertEquals(0, ranged.code(), ranged.all());
    assertEquals(DIGITS, digits().fisher().samples());
    Result badKind = cli("build-fisher", "--model", "digits", "--data", csv.toString(),
        "--kind", "HESSIAN");
    assertEquals(2, badKind.code(), badKind.all());
    assertTrue(badKind.err().contains("[EMPIRICAL, TRUE, MONTE_CARLO]"), badKind.err());
  }

  @Test
  @Order(6)
  void idsComeFromTheUserNeverFromTheFileName() throws Exception {
    // A Fisher for the erases (built from the training set, as the README's first step).
    assertEquals(0, cli("build-fisher", "--model", "digits", "--data", csv.toString()).code());
    long versions = digits().versions().size();
    Result noIds = cli("erase", "--model", "digits", "--data", csv.toString(), "--rows", "3");
    assertEquals(2, noIds.code(), noIds.all());
    assertTrue(noIds.err().contains("--ids-from FILE"), noIds.err());
    Path fewIds = dir.resolve("few.ids");
    Files.writeString(fewIds, "a\nb\n");
    Result wrongCount = cli("erase", "--model", "digits", "--data", csv.toString(), "--ids-from",
        fewIds.toString(), "--rows", "3");
    assertEquals(2, wrongCount.code(), wrongCount.all());
    assertTrue(wrongCount.err().contains("has 2 ids but the data has 1797 rows"), wrongCount.err());
    Result unknownId = cli("erase", "--model", "digits", "--data", csv.toString(), "--ids-from",
        ids.toString(), "--ids", "nobody");
    assertEquals(2, unknownId.code(), unknownId.all());
    assertEquals(versions, digits().versions().size()); // the refusals changed nothing

    Result erased = cli("erase", "--model", "digits", "--data", csv.toString(), "--ids-from",
        ids.toString(), "--ids", "subject-7", "--rows", "8-9", "--request-id", "ids-1");
    assertEquals(0, erased.code(), erased.all());
    assertTrue(erased.out().contains("\"erased\": \"3\""), erased.out());
    assertTrue(server.store().isErased("digits", "subject-7"));
    assertTrue(server.store().isErased("digits", "subject-9"));

    // The same rows in a copy under another name, their ids in a CSV column: already erased.
    List<String> rows = lines(csv);
    Path copy = dir.resolve("renamed-copy.csv");
    StringBuilder b = new StringBuilder("id,");
    for (int c = 0; c < 64; c++) {
      b.append("p").append(c).append(',');
    }
    b.append("label\n");
    for (int i = 7; i <= 9; i++) {
      b.append("subject-").append(i).append(',').append(rows.get(i)).append('\n');
    }
    Files.writeString(copy, b);
    long active = digits().activeVersion();
    Result again = cli("erase", "--model", "digits", "--data", copy.toString(), "--id-column", "0",
        "--rows", "0-2");
    assertEquals(0, again.code(), again.all());
    assertTrue(again.out().contains("\"already_erased\": [\"subject-7\", \"subject-8\", \"subject-9\"]"),
        again.out());
    assertEquals(active, digits().activeVersion(), "nothing new was erased");
    Result ledger = cli("erasures", "digits");
    assertFalse(ledger.out().contains("subject-"), "the ledger holds keyed hashes, not ids");
  }

  @Test
  @Order(4)
  void featurePreprocessingComesFromTheSpec() throws Exception {
    Result base = cli("score", "digits", "--data", csv.toString(), "--version", "1");
    assertEquals(0, base.code(), base.all());
    assertTrue(base.out().contains("mean loss 0.143006"), base.out());
    assertEquals("", base.err(), "no warning for data in the declared range");
    // Raw pixels 0..16 scaled x16 lie far outside the declared [0, 16]: a warning, still scored.
    Result scaled = cli("score", "digits", "--data", csv.toString(), "--version", "1",
        "--feature-scale", "16");
    assertEquals(0, scaled.code(), scaled.all());
    assertTrue(scaled.err().startsWith("warning: the features sent lie in [0.000, 256.0]"),
        scaled.err());
    assertFalse(scaled.out().contains("mean loss 0.143006"), scaled.out());
    // Set in the spec, every data command uses it; the flag overrides it.
    Result set = cli("update-spec", "digits", "--feature-scale", "0.5");
    assertEquals(0, set.code(), set.all());
    assertTrue(set.out().contains("\"feature_scale\": 0.5"), set.out());
    Result half = cli("score", "digits", "--data", csv.toString(), "--version", "1");
    assertFalse(half.out().contains("mean loss 0.143006"), half.out());
    Result override = cli("score", "digits", "--data", csv.toString(), "--version", "1",
        "--feature-scale", "1");
    assertTrue(override.out().contains("mean loss 0.143006"), override.out());
    Result gradients = cli("gradients", "digits", "--data", csv.toString(), "--version", "1",
        "--limit", "2", "--feature-scale", "1");
    assertTrue(gradients.out().contains("#1"), gradients.out());
    assertEquals(0, cli("update-spec", "digits", "--feature-scale", "1").code());
    Result refused = cli("update-spec", "digits", "--l2", "0.5");
    if (digits().fisherReady()) {
      assertEquals(2, refused.code(), refused.all());
      assertTrue(refused.err().startsWith("error: FAILED_PRECONDITION: fields: 'l2'"), refused.err());
      assertEquals(0.001, digits().spec().l2());
    }
  }

  @Test
  @Order(5)
  void uploadsAndLocalErrorsAreRefusedInOneLine() throws Exception {
    Path mlp = dir.resolve("mlp.onnx");
    Files.write(mlp, Fixtures.mlp(1).onnx());
    Result noSize = cli("put-model", mlp.toString(), "--name", "half", "--loss",
        "SOFTMAX_CROSS_ENTROPY", "--logits", "logits");
    assertEquals(2, noSize.code(), noSize.all());
    assertTrue(noSize.err().startsWith("Missing required option: '--train-size=N'"), noSize.err());
    Result badLogits = cli("put-model", mlp.toString(), "--name", "half", "--loss",
        "SOFTMAX_CROSS_ENTROPY", "--logits", "probz", "--train-size", "100");
    assertEquals(2, badLogits.code(), badLogits.all());
    assertTrue(badLogits.err().contains("candidates: 'logits', 'probs'"), badLogits.err());
    assertFalse(cli("models").out().contains("\"half\""), "nothing registered");

    Result missing = cli("score", "digits", "--data", dir.resolve("nope.csv").toString());
    assertEquals(2, missing.code(), missing.all());
    assertEquals(1, missing.err().lines().count(), missing.err());
    assertTrue(missing.err().startsWith("error: --data: ") && missing.err().contains("no such file"),
        missing.err());
    Result missingModel = cli("put-model", dir.resolve("nope.onnx").toString(), "--name", "x",
        "--loss", "SOFTMAX_CROSS_ENTROPY", "--train-size", "1");
    assertEquals(2, missingModel.code(), missingModel.all());
    assertEquals(1, missingModel.err().lines().count(), missingModel.err());
    Result evaluate = run("evaluate", "--quick", "--data", dir.resolve("none").toString(),
        "--out", dir.resolve("ev.md").toString());
    assertEquals(2, evaluate.code(), evaluate.all());
    assertTrue(evaluate.all().contains("error: Fashion-MNIST not found"), evaluate.all());
    assertFalse(evaluate.all().contains("IllegalArgumentException"), evaluate.all());

    // delete-model: everything but the ledger goes; the name may be used again.
    Result put = cli("put-model", mlp.toString(), "--name", "gone", "--loss",
        "SOFTMAX_CROSS_ENTROPY", "--logits", "logits", "--train-size", "100", "--feature-scale",
        "0.5", "--feature-range", "0,1");
    assertEquals(0, put.code(), put.all());
    assertTrue(put.out().contains("\"feature_scale\": 0.5") && put.out().matches("(?s).*\"feature_max\": 1\\s.*"),
        put.out());
    Result stale = cli("delete-model", "gone", "--expected-version", "7");
    assertEquals(2, stale.code(), stale.all());
    assertTrue(stale.err().startsWith("error: FAILED_PRECONDITION: expected_version"), stale.err());
    Result deleted = cli("delete-model", "gone");
    assertEquals(0, deleted.code(), deleted.all());
    assertTrue(deleted.out().contains("\"versions_deleted\": \"1\""), deleted.out());
    assertFalse(cli("models").out().contains("\"gone\""));
    Result unknown = cli("delete-model", "gone");
    assertEquals(2, unknown.code(), unknown.all());
    assertTrue(unknown.err().startsWith("error: NOT_FOUND"), unknown.err());
  }
}
