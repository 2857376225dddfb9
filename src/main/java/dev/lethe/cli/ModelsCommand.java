package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import java.io.PrintWriter;
import picocli.CommandLine.Command;

@Command(name = "models",
    description = "List the registered models (JSON, as grpcurl prints it).")
final class ModelsCommand extends ClientCommand {
  @Override
  void run(LetheClient lethe, PrintWriter out) {
    out.println(Json.models(lethe.listModels()));
  }
}
