package dev.lethe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.JsonFormat;
import dev.lethe.api.v1.CalibrateScaleResponse;
import dev.lethe.demo.DigitsDemo;
import dev.lethe.server.LetheServer;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `lethe calibrate --erase-like … --holdout …` through the real command line against a real
 * sidecar (loopback, the digits demo, its Fisher built by the CLI): the table, the PNG, --json, --apply
 * writing the chosen scale (and nothing before it), and the one-line refusal without ids.
 */
class CalibrateCommandTest {
  @TempDir Path dir;

  private static void writeGz(Path file, List<String> lines) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (OutputStream out = new GZIPOutputStream(bytes)) {
      out.write((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
    }
    Files.write(file, bytes.toByteArray());
  }

  @Test
  void calibratePrintsTheCurveAndAppliesTheChosenScale() throws Exception {
    ServerConfig config = new ServerConfig("127.0.0.1:0", dir.resolve("data"),
        StoreConfig.defaults(), 64 << 20, true, 5);
    LetheServer server = new LetheServer(config,
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)),
        Demo.initializer(true)).start();
    try {
      String target = "127.0.0.1:" + server.port();
      List<String> rows;
      try (InputStream in = new GZIPInputStream(
          DigitsDemo.class.getResourceAsStream("digits.csv.gz"))) {
        rows = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
      }
      Path forget = dir.resolve("forget.csv.gz");
      Path holdout = dir.resolve("holdout.csv.gz");
      writeGz(forget, rows.subList(0, 12));
      writeGz(holdout, rows.subList(1000, 1200));
      Path ids = dir.resolve("forget.ids");
      Files.writeString(ids, String.join("\n", java.util.stream.IntStream.range(0, 12)
          .mapToObj(i -> "digits:" + i).toList()) + "\n");
      Path png = dir.resolve("curve.png");
      Path all = dir.resolve("digits.csv.gz");
      writeGz(all, rows);
      CliDataPathTest.Result built = CliDataPathTest.run("build-fisher", "--model", "digits",
          "--data", all.toString(), "--kind", "EMPIRICAL", "--target", target);
      assertEquals(0, built.code(), built.all());
      double scaleBefore = server.store().info("digits").spec().scale();

      CliDataPathTest.Result table = CliDataPathTest.run("calibrate", "digits", "--erase-like",
          forget.toString(), "--ids-from", ids.toString(), "--holdout", holdout.toString(),
          "--plot", png.toString(), "--target", target);
      assertEquals(0, table.code(), table.all());
      assertTrue(table.out().contains("step LEAVE_OUT") && table.out().contains("<- chosen")
          && table.out().contains("chosen epsilon"), table.out());
      assertEquals(31, table.out().lines().filter(l -> l.matches("\\s+[0-9.e+-]+\\s+[0-9.]+.*"))
          .count(), table.out());
      assertTrue(Files.size(png) > 1000, "the PNG is written");
      assertEquals(scaleBefore, server.store().info("digits").spec().scale(), "not applied");

      CliDataPathTest.Result applied = CliDataPathTest.run("calibrate", "digits", "--erase-like",
          forget.toString(), "--ids-from", ids.toString(), "--holdout", holdout.toString(),
          "--step", "FULL_FISHER", "--apply", "--json", "--target", target);
      assertEquals(0, applied.code(), applied.all());
      CalibrateScaleResponse.Builder r = CalibrateScaleResponse.newBuilder();
      JsonFormat.parser().merge(applied.out(), r);
      assertTrue(applied.out().contains("\"holdout_mean_loss\""), "proto field names");
      assertTrue(r.getApplied());
      assertEquals(dev.lethe.api.v1.EraseStep.FULL_FISHER, r.getStep());
      assertEquals(r.getScale(), server.store().info("digits").spec().scale());

      CliDataPathTest.Result noIds = CliDataPathTest.run("calibrate", "digits", "--erase-like",
          forget.toString(), "--holdout", holdout.toString(), "--target", target);
      assertEquals(2, noIds.code(), noIds.all());
      assertEquals(1, noIds.err().lines().count(), noIds.err());
      assertTrue(noIds.err().contains("--ids-from"), noIds.err());
    } finally {
      server.stop();
    }
  }
}
