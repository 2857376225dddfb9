package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "watch",
    description = "Print the model's state, then every change (new version, activation, Fisher "
        + "attached, scale set), until interrupted.")
final class WatchCommand extends ClientCommand {
  @Parameters(index = "0", description = "Model name.")
  String name;

  @Override
  void run(LetheClient lethe, PrintWriter out) {
    lethe.watch(name, model -> {
      out.println(Json.model(model));
      out.flush();
    });
  }
}
