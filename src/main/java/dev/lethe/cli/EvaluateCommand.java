package dev.lethe.cli;

import dev.lethe.grpc.LetheClient;
import java.io.PrintWriter;
import picocli.CommandLine.Command;

@Command(name = "evaluate", mixinStandardHelpOptions = true,
    description = "Evaluate a version on labelled samples from IDX or CSV files.")
final class EvaluateCommand extends ClientCommand {
  @Override
  void run(LetheClient lethe, PrintWriter out) {
    throw new UnsupportedOperationException("pending data readers");
  }
}
