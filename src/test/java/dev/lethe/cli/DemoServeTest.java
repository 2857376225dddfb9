package dev.lethe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.server.LetheServer;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A fresh store served with the demo initializer, driven through the CLI over loopback: the
 * digits model is registered and scores the accuracy the README states; its ε is calibrated.
 */
class DemoServeTest {
  /** The README's figure: training accuracy of the demo model on the 1797 digits. */
  static final String README_ACCURACY = "accuracy  0.9794";
  @TempDir Path dir;

  private static String run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Main.commandLine();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int code = cl.execute(args);
    return code + "\n" + out + err;
  }

  @Test
  void freshStoreServesDemoModelWithStatedAccuracy() throws Exception {
    ServerConfig config = new ServerConfig("127.0.0.1:0", dir.resolve("data"),
        StoreConfig.defaults(), 64 << 20, true, 5);
    LetheServer server = new LetheServer(config,
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)),
        Demo.initializer(true)).start();
    try {
      String target = "127.0.0.1:" + server.port();
      Path csv = dir.resolve("digits.csv.gz");
      try (InputStream in = dev.lethe.demo.DigitsDemo.class.getResourceAsStream("digits.csv.gz")) {
        Files.copy(in, csv);
      }
      String models = run("models", "--target", target);
      assertTrue(models.startsWith("0\n") && models.contains("\"name\": \"digits\""), models);
      String eval = run("score", "digits", "--data", csv.toString(), "--target", target);
      assertTrue(eval.startsWith("0\n"), eval);
      assertTrue(eval.contains("on 1797 samples"), eval);
      assertTrue(eval.contains(README_ACCURACY), eval);
      Path grads = dir.resolve("grads.csv");
      String gradients = run("gradients", "digits", "--data", csv.toString(), "--limit", "3",
          "-o", grads.toString(), "--target", target);
      assertTrue(gradients.startsWith("0\n") && gradients.contains("#2"), gradients);
      java.util.List<String> rows = Files.readAllLines(grads);
      assertEquals(3, rows.size());
      assertEquals(650, rows.get(0).split(",").length);
      String fisher = run("build-fisher", "--model", "digits", "--data", csv.toString(),
          "--target", target);
      assertTrue(fisher.startsWith("0\n") && fisher.contains("digits version 1: 1797 samples"),
          fisher);
      String calibrate = run("calibrate", "digits", "--epsilon", "0.5", "--target", target);
      assertEquals("0\nmodel digits: scale 0.5\n", calibrate);
      assertTrue(run("models", "--target", target).contains("\"scale\": 0.5"));
      String badEpsilon = run("calibrate", "digits", "--epsilon", "-1", "--target", target);
      assertTrue(badEpsilon.startsWith("2\n") && badEpsilon.contains("error: INVALID_ARGUMENT: scale"),
          badEpsilon);
      // ε* from the results.csv `lethe evaluate` writes: the report row of the family and setting
      Path results = dir.resolve("results.csv");
      java.nio.file.Files.writeString(results, "family,fisher,split,group,removal,k,epsilon,gamma\n"
          + "convex,TRUE B=2048 m=1,calibration,10%,\"attribute 0, 10%\",115,1,0.9\n"
          + "convex,TRUE B=2048 m=1,report,10%,\"attribute 1, 10%\",113,1.15478,0.9\n");
      String fromReport = run("calibrate", "digits", "--from", results.toString(), "--family",
          "convex", "--fisher", "TRUE B=2048 m=1", "--target", target);
      assertEquals("0\nmodel digits: scale 1.15478\n", fromReport);
      String noRow = run("calibrate", "digits", "--from", results.toString(), "--family", "mlp",
          "--fisher", "TRUE B=2048 m=1", "--target", target);
      assertTrue(!noRow.startsWith("0\n") && noRow.contains("no report row"), noRow);
      assertEquals(1.15478, server.store().info("digits").spec().scale());
      run("calibrate", "digits", "--epsilon", "0.5", "--target", target);
      String unknown = run("calibrate", "nope", "--epsilon", "2", "--target", target);
      assertTrue(unknown.startsWith("2\n") && unknown.contains("error: NOT_FOUND"), unknown);
      assertEquals(0.5, server.store().info("digits").spec().scale());
      Path ids = dir.resolve("digits.ids");
      StringBuilder idLines = new StringBuilder();
      for (int i = 0; i < 1797; i++) {
        idLines.append("digits:").append(i).append('\n');
      }
      Files.writeString(ids, idLines);
      String erase = run("erase", "--model", "digits", "--data", csv.toString(), "--ids-from",
          ids.toString(), "--rows", "0-4", "--request-id", "cli-1", "--target", target);
      assertTrue(erase.startsWith("0\n") && erase.contains("\"version\": \"2\"")
          && erase.contains("\"erased\": \"5\""), erase);
      String ledger = run("erasures", "digits", "--target", target);
      assertEquals(5, ledger.split("\"event\": \"erase\"", -1).length - 1, ledger);
      String back = run("activate", "digits", "1", "--target", target);
      assertTrue(back.startsWith("2\n") && back.contains("FAILED_PRECONDITION"), back);
      String after = run("score", "digits", "--data", csv.toString(), "--target", target);
      assertTrue(after.contains("version 2"), after);
      String missing = run("score", "nope", "--data", csv.toString(), "--target", target);
      assertTrue(missing.startsWith("2\n") && missing.contains("error: NOT_FOUND"), missing);
      Path onnx = dir.resolve("out/digits.onnx");
      String get = run("get-model", "digits", "-o", onnx.toString(), "--target", target);
      assertTrue(get.startsWith("0\n"), get);
      assertEquals(server.store().info("digits").versions().get(0).sizeBytes(), Files.size(onnx));

      Path mlp = dir.resolve("mlp.onnx");
      Files.write(mlp, dev.lethe.testing.Fixtures.mlp(1).onnx());
      String put = run("put-model", mlp.toString(), "--name", "mlp", "--loss",
          "SOFTMAX_CROSS_ENTROPY", "--logits", "logits", "--train-size", "100", "--l2", "0.01",
          "--target", target);
      assertTrue(put.startsWith("0\n") && put.contains("\"active_version\": \"1\""), put);
      Files.write(mlp, dev.lethe.testing.Fixtures.mlp(2).onnx());
      run("put-model", mlp.toString(), "--name", "mlp", "--loss", "SOFTMAX_CROSS_ENTROPY",
          "--logits", "logits", "--train-size", "100", "--target", target);
      String activate = run("activate", "mlp", "1", "--target", target);
      assertTrue(activate.startsWith("0\n") && activate.contains("\"active_version\": \"1\""), activate);
      String badLoss = run("put-model", mlp.toString(), "--name", "x", "--loss", "HINGE",
          "--train-size", "100", "--target", target);
      assertTrue(badLoss.startsWith("2\n"), badLoss);
      String refused = run("put-model", mlp.toString(), "--name", "mlp2", "--loss",
          "SOFTMAX_CROSS_ENTROPY", "--logits", "nope", "--train-size", "100", "--target", target);
      assertTrue(refused.startsWith("2\n") && refused.contains("error: INVALID_ARGUMENT: spec.logits_output"), refused);
    } finally {
      server.stop();
    }
    // A restart does not register the demo twice.
    LetheServer again = new LetheServer(config,
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)),
        Demo.initializer(true)).start();
    try {
      assertEquals(2, again.store().info("digits").versions().size()); // upload + erase, no second demo
      assertTrue(again.store().info("digits").fisherReady(), "the Fisher survives the restart");
      assertEquals(0.5, again.store().info("digits").spec().scale(), "ε survives the restart");
      Path csv = dir.resolve("digits.csv.gz");
      String erase = run("erase", "--model", "digits", "--data", csv.toString(), "--rows", "5",
          "--ids-from", dir.resolve("digits.ids").toString(), "--target", "127.0.0.1:" + again.port());
      assertTrue(erase.startsWith("0\n") && erase.contains("\"version\": \"3\""), erase);
    } finally {
      again.stop();
    }
  }
}
