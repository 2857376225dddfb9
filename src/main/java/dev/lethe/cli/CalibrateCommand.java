package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import dev.lethe.core.ModelConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Writes a calibrated ε into a model's spec through SetScale. */
@Command(name = "calibrate", mixinStandardHelpOptions = true,
    description = {"Set epsilon, the scale of the SSSE erase step, in a model's spec (SetScale).",
        "Later erases use it; no version is created; a write token is needed where the server "
            + "has tokens. The value is given (--epsilon) or read from the results.csv that "
            + "`lethe evaluate` writes beside its report (--from): the epsilon* its calibration "
            + "split chose for a family and Fisher setting."})
final class CalibrateCommand extends ClientCommand {
  @Parameters(index = "0", description = "Model name.")
  String name;

  @ArgGroup(exclusive = true, multiplicity = "1")
  Source source;

  static final class Source {
    @Option(names = "--epsilon", description = "The scale to set: a finite number > 0.")
    Double epsilon;

    @ArgGroup(exclusive = false)
    FromReport report;
  }

  static final class FromReport {
    @Option(names = "--from", required = true,
        description = "results.csv of `lethe evaluate` (docs/evaluation/results.csv).")
    Path csv;

    @Option(names = "--family", required = true, description = "convex or mlp.")
    String family;

    @Option(names = "--fisher", required = true,
        description = "The Fisher setting as the report labels it, e.g. \"TRUE B=2048 m=1\".")
    String fisher;

    @Option(names = "--step", defaultValue = "LEAVE_OUT",
        description = "The erase step whose epsilon* to read: LEAVE_OUT (the default step) or "
            + "FULL_FISHER (default ${DEFAULT-VALUE}; ignored for a results.csv without a step "
            + "column).")
    String step = "LEAVE_OUT";
  }

  @Override
  void run(LetheClient lethe, PrintWriter out) throws IOException {
    double epsilon = source.epsilon != null ? source.epsilon : fromReport(source.report);
    ModelConfig spec = lethe.setScale(name, epsilon);
    out.printf("model %s: scale %s%n", spec.name(), spec.scale());
  }

  /** ε* of the report split's rows for the family and setting (all rows carry the same). */
  static double fromReport(FromReport r) throws IOException {
    List<String> lines = Files.readAllLines(r.csv);
    if (lines.isEmpty() || !lines.get(0).startsWith("family,fisher,split,")) {
      throw new IllegalArgumentException(r.csv + " is not a results.csv of lethe evaluate");
    }
    // since issue 18 the last column names the erase step; older files have one step
    boolean stepped = lines.get(0).endsWith(",step");
    for (String line : lines.subList(1, lines.size())) {
      String[] f = line.split(",");
      // family, fisher, split, group, "removal", k, epsilon, ..., step
      if (f[0].equals(r.family) && f[1].equals(r.fisher) && f[2].equals("report")
          && (!stepped || f[f.length - 1].equals(r.step))) {
        int quoted = line.indexOf('"', line.indexOf('"') + 1);
        String[] rest = line.substring(quoted + 2).split(",");
        return Double.parseDouble(rest[1]);
      }
    }
    throw new IllegalArgumentException("no report row for family " + r.family + " and Fisher \""
        + r.fisher + "\"" + (stepped ? " with step " + r.step : "") + " in " + r.csv);
  }
}
