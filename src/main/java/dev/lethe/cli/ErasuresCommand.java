package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "erasures",
    description = "Page the erasure ledger of a model (SHA-256 of each erased id, version, request, time, event).")
final class ErasuresCommand extends ClientCommand {
  @Parameters(index = "0", description = "Model name.")
  String name;

  @Option(names = "--page-size", defaultValue = "100", description = "Entries per page; default ${DEFAULT-VALUE}.")
  int pageSize;

  @Option(names = "--page-token", defaultValue = "", description = "Token of the next page, from the previous output.")
  String pageToken;

  @Override
  void run(LetheClient lethe, PrintWriter out) {
    out.println(Json.erasures(lethe.listErasures(name, pageSize, pageToken)));
  }
}
