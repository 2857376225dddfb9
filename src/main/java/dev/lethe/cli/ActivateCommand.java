package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "activate",
    description = "Make a kept version the active one.")
final class ActivateCommand extends ClientCommand {
  @Parameters(index = "0", description = "Model name.")
  String name;

  @Parameters(index = "1", description = "Version to activate.")
  long version;

  @Option(names = "--allow-unerase",
      description = "Allow going back past an erasure (restores the erased data's influence).")
  boolean allowUnerase;

  @Override
  void run(LetheClient lethe, PrintWriter out) {
    out.println(Json.model(lethe.activate(name, version, allowUnerase)));
  }
}
