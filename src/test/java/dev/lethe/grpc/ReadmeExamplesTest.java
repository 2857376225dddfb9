package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.lethe.api.v1.BuildFisherRequest;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.EvaluateRequest;
import dev.lethe.api.v1.EvaluateResponse;
import dev.lethe.api.v1.GetModelRequest;
import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.ModelChunk;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.PutModelRequest;
import dev.lethe.api.v1.SetActiveVersionRequest;
import dev.lethe.api.v1.WatchModelRequest;
import dev.lethe.cli.Main;
import dev.lethe.demo.DigitsDemo;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The README followed top to bottom against a fresh sidecar with the demo model (real Netty on
 * loopback, as a user's shell would reach it): every line of every bash block runs in order —
 * `java -jar target/lethe.jar` lines through the real command line, grpcurl lines parsed into
 * their request messages (so the JSON field names match the proto, as reflection serves it) and
 * sent, `seq` through bash — or is one of the lines this test cannot run (build, Docker, the
 * server itself, the long evaluation, torch scripts), each listed. The command table is checked
 * against the commands' real flags.
 */
class ReadmeExamplesTest {
  private static final Pattern UNARY =
      Pattern.compile("grpcurl -plaintext -d '(.*?)' localhost:50051 ([\\w.]+)/(\\w+)");
  private static final Pattern CHUNK_FILE = Pattern.compile("\\$\\(base64 -w0 ([\\w./-]+)\\)");
  /** Lines a test cannot run (they build, start or containerise the server, or need torch). */
  private static final List<String> NOT_RUN = List.of("mvn ", "docker ", "printf ",
      "java -jar target/lethe.jar serve", "java -Xmx12g -jar target/lethe.jar evaluate",
      "/usr/bin/python3 ", "-v \"$PWD", "-e LETHE_");
  @TempDir Path dir;

  private static <T extends Message.Builder> T parse(String json, T builder) throws Exception {
    JsonFormat.parser().merge(json, builder);
    return builder;
  }

  /** The lines of every ```bash block, in README order, without comments and blank lines. */
  static List<String> bashLines(String readme) {
    List<String> out = new ArrayList<>();
    boolean in = false;
    for (String raw : readme.split("\n")) {
      String line = raw.strip();
      if (line.startsWith("```")) {
        in = !in && line.equals("```bash");
        continue;
      }
      if (in && !line.isEmpty() && !line.startsWith("#")) {
        out.add(line);
      }
    }
    return out;
  }

  /** Splits a shell command line into words ('…' and "…" quoting, no expansions). */
  static List<String> words(String line) {
    List<String> out = new ArrayList<>();
    StringBuilder w = new StringBuilder();
    char quote = 0;
    boolean any = false;
    for (char c : line.toCharArray()) {
      if (quote != 0) {
        if (c == quote) {
          quote = 0;
        } else {
          w.append(c);
        }
      } else if (c == '\'' || c == '"') {
        quote = c;
        any = true;
      } else if (c == ' ') {
        if (any || w.length() > 0) {
          out.add(w.toString());
        }
        w.setLength(0);
        any = false;
      } else {
        w.append(c);
      }
    }
    if (any || w.length() > 0) {
      out.add(w.toString());
    }
    return out;
  }

  /** Exit code and output of one CLI line, run in {@code dir} against {@code target}. */
  private String cli(List<String> args, String target) {
    CommandLine cl = Main.commandLine();
    List<String> effective = new ArrayList<>();
    for (String a : args) {
      // Relative file names are the user's working directory: here the test's; the repository's
      // own files (client-examples/...) stay as they are.
      boolean file = !a.startsWith("-") && a.matches("[\\w./-]+\\.(gz|csv|ids|onnx|pt|md)");
      effective.add(file && !Files.exists(Path.of(a)) ? dir.resolve(a).toString() : a);
    }
    CommandLine sub = cl.getSubcommands().get(effective.get(0));
    if (sub != null && sub.getCommandSpec().findOption("--target") != null
        && !effective.contains("--help")) {
      effective.add("--target");
      effective.add(target);
    }
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(effective.toArray(String[]::new));
    return code + "\n" + out + err;
  }

  @Test
  void theReadmeRunsTopToBottom() throws Exception {
    String readme = Files.readString(Path.of("README.md"));
    try (InputStream in = DigitsDemo.class.getResourceAsStream("digits.csv.gz")) {
      Files.copy(in, dir.resolve("digits.csv.gz")); // what Debian's python3-sklearn ships
    }
    ServerConfig config = new ServerConfig("127.0.0.1:0", dir.resolve("data"),
        StoreConfig.defaults(), 64 << 20, true, 5);
    dev.lethe.demo.DemoModel demo = DigitsDemo.train(); // what `serve` registers in a new store
    try (ServerHarness lethe = ServerHarness.loopback(config,
        store -> store.put(demo.spec(), demo.onnx()))) {
      List<String> lines = bashLines(readme);
      Set<String> ran = new LinkedHashSet<>();
      List<String> skipped = new ArrayList<>();
      long erased = 0;
      for (int i = 0; i < lines.size(); i++) {
        String line = lines.get(i);
        if (NOT_RUN.stream().anyMatch(line::startsWith) || line.endsWith("\\")
            || lines.get(Math.max(0, i - 1)).endsWith("\\")) {
          skipped.add(line);
          continue;
        }
        if (line.startsWith("java -jar target/lethe.jar ")) {
          List<String> args = words(line).subList(3, words(line).size());
          String result = cli(args, lethe.target());
          assertTrue(result.startsWith("0\n"), line + "\n" + result);
          String command = args.get(0);
          ran.add("cli " + command);
          if (command.equals("score") && !ran.contains("cli erase")) {
            assertTrue(result.contains("accuracy  0.9794"), result); // the README's figure
          }
          if (command.equals("erase")) {
            erased += EraseResponse.newBuilder().mergeFrom(json(result, EraseResponse.newBuilder()))
                .getErased();
          }
          if (command.equals("build-fisher") && args.contains("digits")) {
            assertTrue(result.contains("digits version 1: 1797 samples"), result);
          }
          continue;
        }
        if (line.startsWith("seq ")) {
          Process p = new ProcessBuilder("bash", "-c", line).directory(dir.toFile())
              .redirectErrorStream(true).start();
          assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, line);
          ran.add("seq");
          continue;
        }
        if (line.startsWith("grpcurl -plaintext localhost:50051 ")) {
          skipped.add(line); // list / describe: ReflectionTest resolves them through reflection
          continue;
        }
        if (line.startsWith("( echo '{\"spec\"")) {
          // PutModel from stdin: the spec line, then the chunk line, then grpcurl.
          Matcher spec = Pattern.compile("echo '(\\{\"spec\".*?)'").matcher(line);
          assertTrue(spec.find(), line);
          Matcher file = CHUNK_FILE.matcher(lines.get(i + 1));
          assertTrue(file.find() && lines.get(i + 2).contains("lethe.v1.ModelStore/PutModel"),
              lines.get(i + 1));
          byte[] onnx = Files.readAllBytes(dir.resolve(file.group(1)));
          PutModelRequest specMessage = parse(spec.group(1), PutModelRequest.newBuilder()).build();
          ModelInfo info = lethe.put(List.of(specMessage, PutModelRequest.newBuilder()
              .setChunk(ByteString.copyFrom(onnx)).build()));
          assertEquals(specMessage.getSpec().getName(), info.getName());
          ran.add("PutModel");
          i += 2;
          continue;
        }
        if (line.startsWith("grpcurl -plaintext -d @ localhost:50051 lethe.v1.ModelStore/BuildFisher <<'EOF'")) {
          List<BuildFisherRequest> stream = new ArrayList<>();
          while (!lines.get(++i).equals("EOF")) {
            stream.add(parse(lines.get(i), BuildFisherRequest.newBuilder()).build());
          }
          String model = stream.get(0).getOptions().getName();
          String demoFisher = lethe.server.store().info("digits").fisher().fisherId();
          assertTrue(new FisherStreams(lethe).buildFisher(stream).getDone());
          assertTrue(!model.equals("digits")
              && demoFisher.equals(lethe.server.store().info("digits").fisher().fisherId()),
              "the BuildFisher example builds its own model's Fisher, not the demo's");
          assertEquals(1797, lethe.server.store().info("digits").fisher().samples());
          ran.add("BuildFisher");
          continue;
        }
        Matcher m = UNARY.matcher(line);
        assertTrue(m.find(), "a README line this test does not know how to run: " + line);
        erased += unary(lethe, m.group(1), m.group(2) + "/" + m.group(3), erased);
        ran.add(m.group(3));
      }
      for (String expected : List.of("cli score", "cli --help", "cli build-fisher", "cli models",
          "cli get-model", "cli erase", "cli calibrate", "cli put-model", "PutModel", "BuildFisher",
          "Check", "ListModels", "GetModel", "WatchModel", "SetActiveVersion", "Gradients",
          "Evaluate", "SetScale", "Erase", "ListErasures", "CheckErasure", "UpdateSpec", "DeleteModel",
          "cli update-spec", "seq")) {
        assertTrue(ran.contains(expected), "README example not run: " + expected + "; ran " + ran);
      }
      assertTrue(skipped.size() < 25, skipped.toString());
    }
  }

  private static Message json(String cliResult, Message.Builder b) throws Exception {
    String text = cliResult.substring(cliResult.indexOf('{'), cliResult.lastIndexOf('}') + 1);
    JsonFormat.parser().merge(text, b);
    return b.build();
  }

  /** Runs one unary grpcurl example; returns how many samples it erased. */
  private long unary(ServerHarness lethe, String json, String method, long erasedBefore)
      throws Exception {
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
        var request = parse(json, dev.lethe.api.v1.SetScaleRequest.newBuilder()).build();
        int versions = lethe.blocking.listModels(ListModelsRequest.getDefaultInstance())
            .getModels(0).getVersionsCount();
        ModelInfo info = lethe.blocking.setScale(request);
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
      case "lethe.v1.ModelStore/ListErasures" -> assertEquals(erasedBefore, lethe.blocking
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
        var request = parse(json, dev.lethe.api.v1.EraseRequest.newBuilder()).build();
        var r = lethe.blocking.erase(request);
        assertEquals(1, r.getErased());
        assertEquals(request.getDryRun() ? 1 : 2, r.getVersion());
        return request.getDryRun() ? 0 : r.getErased();
      }
      case "lethe.v1.ModelStore/UpdateSpec" -> {
        var request = parse(json, dev.lethe.api.v1.UpdateSpecRequest.newBuilder()).build();
        ModelInfo info = lethe.blocking.updateSpec(request);
        assertTrue(request.getFieldsCount() > 0);
        assertEquals(request.getSpec().getFeatureMax(), info.getSpec().getFeatureMax());
      }
      case "lethe.v1.ModelStore/DeleteModel" -> {
        var request = parse(json, dev.lethe.api.v1.DeleteModelRequest.newBuilder()).build();
        assertEquals(1, lethe.blocking.deleteModel(request).getVersionsDeleted());
        assertTrue(lethe.blocking.listModels(ListModelsRequest.getDefaultInstance()).getModelsList()
            .stream().noneMatch(m -> m.getName().equals(request.getName())));
        assertEquals(1, lethe.server.store().list().stream()
            .filter(m -> m.name().equals("digits")).count(), "the demo stays");
      }
      default -> throw new AssertionError("README example for " + method + " is not checked");
    }
    return 0;
  }

  /**
   * Each row of the README's command table lists exactly the command's flags (the security and
   * target options are described once above the table), and the serve table every serve flag.
   */
  @Test
  void theCommandTablesListEveryFlag() throws Exception {
    String readme = Files.readString(Path.of("README.md"));
    CommandLine cl = Main.commandLine();
    Matcher row = Pattern.compile("(?m)^\\| `([a-z-]+)( [^`]*)?`[^|]*\\| ").matcher(readme);
    Set<String> checked = new LinkedHashSet<>();
    while (row.find()) {
      String name = row.group(1);
      CommandLine sub = cl.getSubcommands().get(name);
      if (sub == null || name.equals("serve") || name.equals("bench")) {
        continue;
      }
      String cell = row.group(2) == null ? "" : row.group(2);
      Set<String> listed = new LinkedHashSet<>();
      Matcher flag = Pattern.compile("(?<![\\w-])(--?[a-z][a-z0-9-]*)").matcher(cell);
      while (flag.find()) {
        listed.add(flag.group(1));
      }
      Set<String> real = new LinkedHashSet<>();
      CommandSpec spec = sub.getCommandSpec();
      Set<OptionSpec> shared = new java.util.HashSet<>();
      CommandSpec client = spec.mixins().get("client");
      if (client != null) {
        shared.addAll(client.options());
      }
      for (OptionSpec o : spec.options()) {
        if (o.usageHelp() || o.versionHelp() || shared.contains(o)) {
          continue;
        }
        assertTrue(java.util.Arrays.stream(o.names()).anyMatch(listed::contains),
            "README row of `" + name + "` does not list " + o.longestName() + ": " + cell);
        real.addAll(List.of(o.names()));
      }
      for (String l : listed) {
        assertTrue(real.contains(l), "README row of `" + name + "` lists " + l
            + ", which the command does not have");
      }
      checked.add(name);
    }
    for (String name : cl.getSubcommands().keySet()) {
      if (!List.of("serve", "bench", "help").contains(name)) {
        assertTrue(checked.contains(name), "the README's table has no row for " + name);
      }
    }
    String serveTable = readme.substring(readme.indexOf("`serve` flags"),
        readme.indexOf("One sidecar writes one store"));
    for (OptionSpec o : cl.getSubcommands().get("serve").getCommandSpec().options()) {
      if (o.usageHelp() || o.versionHelp()) {
        continue;
      }
      String n = o.longestName();
      assertTrue(serveTable.contains("`" + n + "`") || serveTable.contains("`--[no-]" + n.substring(2) + "`"),
          "the serve table has no row for " + n);
    }
    assertFalse(checked.isEmpty());
  }
}
