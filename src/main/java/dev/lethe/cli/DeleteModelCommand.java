package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "delete-model",
    description = {"Delete a model (the DeleteModel RPC): every version, its graph, weights, Fishers "
        + "and stored erase answers, in one synced write; print the response (JSON).",
        "The erasure ledger's entries are kept (`lethe erasures` still lists them). A model later "
            + "uploaded under the name continues its version numbers and, if erasures were in "
            + "effect, needs --trained-without-erased."})
final class DeleteModelCommand extends ClientCommand {
  @Parameters(index = "0", paramLabel = "NAME", description = "Model name.")
  String name;

  @Option(names = "--expected-version", defaultValue = "0",
      description = "Refuse unless this version is active (0 = any).")
  long expectedVersion;

  @Override
  void run(LetheClient lethe, PrintWriter out) {
    out.println(Json.deleted(lethe.deleteModel(name, expectedVersion)));
  }
}
