package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import dev.lethe.core.Samples;
import dev.lethe.onnx.GradientResult;
import java.io.BufferedWriter;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "gradients",
    description = {"Per-sample loss and gradient norm of a version on labelled samples from IDX or CSV files.",
        "With --output, also the full per-sample gradients [N, P] as CSV (one row per sample, "
            + "parameters in spec order). Ids are printed as --ids-from/--id-column give them, else #row."})
final class GradientsCommand extends ClientCommand {
  @Mixin ModelVersion model;

  @Mixin DataOptions data;

  @Option(names = "--limit", defaultValue = "10", description = "Use the first N samples (0 = all); default ${DEFAULT-VALUE}.")
  int limit;

  @Option(names = {"-o", "--output"}, description = "Write the full gradients [N, P] to this CSV file.")
  Path output;

  @Override
  void run(LetheClient lethe, PrintWriter out) throws Exception {
    SampleData samples = data.open(lethe.describe(model.name));
    int n = limit > 0 ? Math.min(limit, samples.size()) : samples.size();
    String warning = samples.rangeWarning(0, n);
    if (warning != null) {
      spec.commandLine().getErr().println(warning);
    }
    Samples batch = samples.range(0, n);
    GradientResult r = lethe.gradients(model.name, model.version, batch, output != null);
    out.printf("%-24s %12s %14s%n", "id", "loss", "gradient norm");
    for (int i = 0; i < r.size(); i++) {
      out.printf("%-24s %12.6f %14.6f%n", samples.label(i), r.losses()[i], r.norms()[i]);
    }
    if (output != null) {
      try (BufferedWriter w = Files.newBufferedWriter(output)) {
        for (int i = 0; i < r.size(); i++) {
          StringBuilder row = new StringBuilder();
          for (long j = 0; j < r.parameterCount(); j++) {
            if (j > 0) {
              row.append(',');
            }
            row.append(r.gradients()[(int) (i * r.parameterCount() + j)]);
          }
          w.write(row.append('\n').toString());
        }
      }
      out.printf("wrote %d x %d gradients to %s%n", r.size(), r.parameterCount(), output);
    }
  }
}
