package dev.lethe.cli;

import dev.lethe.core.ModelSpec;
import dev.lethe.grpc.LetheClient;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Writes a calibrated ε into a model's spec through SetScale. */
@Command(name = "calibrate", mixinStandardHelpOptions = true,
    description = {"Set epsilon, the scale of the SSSE erase step, in a model's spec (SetScale).",
        "Later erases use it; no version is created; a write token is needed where the server "
            + "has tokens. The value typically comes from `lethe evaluate`, the erasure-quality "
            + "evaluation against retraining."})
final class CalibrateCommand extends ClientCommand {
  @Parameters(index = "0", description = "Model name.")
  String name;

  @Option(names = "--epsilon", required = true,
      description = "The scale to set: a finite number > 0.")
  double epsilon;

  @Override
  void run(LetheClient lethe, PrintWriter out) {
    ModelSpec spec = lethe.setScale(name, epsilon);
    out.printf("model %s: scale %s%n", spec.name(), spec.scale());
  }
}
