package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.client.LetheClient;
import dev.lethe.client.RemoteException;
import dev.lethe.core.Batches;
import dev.lethe.core.Samples;
import dev.lethe.erase.EraseCommand;
import dev.lethe.erase.EraseConfig;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.InversionMethod;
import dev.lethe.server.LetheServer;
import dev.lethe.server.Security;
import dev.lethe.server.ServerConfig;
import dev.lethe.store.StoreConfig;
import dev.lethe.testing.Fixtures;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Prometheus endpoint, scraped over HTTP after real calls through a loopback server. */
class MetricsTest {
  @TempDir Path dir;

  private static double value(String text, String series) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " ([0-9.eE+-]+)").matcher(text);
    assertTrue(m.find(), "no " + series + " in\n" + text);
    return Double.parseDouble(m.group(1));
  }

  @Test
  void scrapeShowsRpcsErasesVersionsAndTheFisher() throws Exception {
    ServerConfig config = new ServerConfig("127.0.0.1:0", dir, new StoreConfig(10, 1 << 20),
        64 << 20, false, 5, EraseConfig.defaults(), 1L << 30, Security.none(), "127.0.0.1:0");
    LetheServer server = LetheServer.netty(config, s -> {}).start();
    try (LetheClient client = new LetheClient("127.0.0.1:" + server.port())) {
      int n = 40;
      client.putModel(Fixtures.spec("mlp").withTrainSize(n), new ByteArrayInputStream(Fixtures.mlp(1).onnx()));
      Samples train = Fixtures.batch(2, n);
      client.buildFisher(new FisherRequest("mlp", CurvatureKind.EMPIRICAL, InversionMethod.GRAM, 10, 0, 0,
          0, 0, n), List.of(train).iterator(), p -> {});
      client.erase(new EraseCommand("mlp", "", Batches.range(train, 0, 3), false, 0, false));
      client.listModels();
      assertThrows(RemoteException.class, () -> client.activate("nope", 1, false));

      HttpResponse<String> scrape = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
          URI.create("http://127.0.0.1:" + server.metrics().port() + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, scrape.statusCode());
      String text = scrape.body();
      assertEquals(1, value(text,
          "lethe_rpc_requests_total{code=\"OK\",method=\"lethe.v1.ModelStore/ListModels\"}"));
      assertEquals(1, value(text,
          "lethe_rpc_requests_total{code=\"NOT_FOUND\",method=\"lethe.v1.ModelStore/SetActiveVersion\"}"));
      assertEquals(1, value(text, "lethe_erase_stage_seconds_count{stage=\"solve\"}"));
      assertEquals(3, value(text, "lethe_samples_erased_total{model=\"mlp\"}"));
      assertEquals(2, value(text, "lethe_model_versions{model=\"mlp\"}"));
      assertEquals(2, value(text, "lethe_model_active_version{model=\"mlp\"}"));
      assertTrue(value(text, "lethe_fisher_bytes{model=\"mlp\"}") > 0);
      assertEquals(value(text, "lethe_fisher_build_blocks_total{model=\"mlp\"}"),
          value(text, "lethe_fisher_build_blocks_done{model=\"mlp\"}"));
      assertEquals(n + 3, value(text, "lethe_gradient_samples_total{model=\"mlp\"}"));
    } finally {
      server.stop();
    }
  }
}
