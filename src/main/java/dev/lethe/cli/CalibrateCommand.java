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
@Command(name = "calibrate",
    description = {"Choose or set epsilon, the scale of the SSSE erase step, in a model's spec.",
        "--erase-like/--holdout: CalibrateScale — the erase step of the --erase-like training "
            + "samples (nothing is erased) over a grid of epsilon, each compared with --holdout "
            + "samples never trained on; prints the curve and the epsilon whose erased samples' "
            + "mean loss matches the holdout's while retained accuracy falls by at most "
            + "--max-accuracy-drop points; --apply writes it into the spec.",
        "--epsilon / --from: SetScale with a given value or the epsilon* that `lethe evaluate` "
            + "chose (results.csv). Writing needs a write token where the server has tokens."})
final class CalibrateCommand extends ClientCommand {
  @Parameters(index = "0", description = "Model name.")
  String name;

  @ArgGroup(exclusive = true, multiplicity = "1")
  Source source;

  @Option(names = "--step", description = "LEAVE_OUT or FULL_FISHER. With --erase-like: the step"
      + " to calibrate (default: as Erase); with --from: the step whose epsilon* to read"
      + " (default LEAVE_OUT; ignored for a results.csv without a step column).")
  dev.lethe.core.ErasureStep step;

  static final class Source {
    @Option(names = "--epsilon", description = "The scale to set: a finite number > 0.")
    Double epsilon;

    @ArgGroup(exclusive = false)
    FromReport report;

    @ArgGroup(exclusive = false)
    HeldOut heldOut;
  }

  static final class HeldOut {
    @Option(names = "--erase-like", required = true, arity = "1..2",
        description = "Training samples to erase hypothetically: a CSV, or IDX images and labels.")
    List<Path> eraseLike;

    @Option(names = "--holdout", required = true, arity = "1..2",
        description = "Samples of the same distribution never trained on (CSV or IDX pair).")
    List<Path> holdout;

    @Option(names = "--retained", arity = "1..2",
        description = "Training samples that stay, for the accuracy guard (default: the holdout).")
    List<Path> retained;

    @Option(names = "--ids-from", description = "The --erase-like rows' ids, one per line (the"
        + " ids Erase would be given; required unless --id-column).")
    Path idsFrom;

    @Option(names = "--id-column", description = "The --erase-like CSV's column holding the ids.")
    Integer idColumn;

    @Option(names = "--feature-scale", description = "Override the spec's feature_scale for"
        + " every file read.")
    Double featureScale;

    @Option(names = "--feature-offset", description = "Override the spec's feature_offset.")
    Double featureOffset;


    @Option(names = "--max-accuracy-drop", defaultValue = "1",
        description = "Guard: retained accuracy may fall by at most this many points (default"
            + " ${DEFAULT-VALUE}).")
    double maxAccuracyDrop;

    @Option(names = "--apply", description = "Write the chosen epsilon into the spec.")
    boolean apply;

    @Option(names = "--plot", description = "Also write the curve as a PNG here.")
    Path plot;

    @Option(names = "--json", description = "Print the response as JSON instead of a table.")
    boolean json;
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

    /** The erase step whose ε* to read (the command's --step; LEAVE_OUT when not given). */
    String step = "LEAVE_OUT";
  }

  @Override
  void run(LetheClient lethe, PrintWriter out) throws IOException {
    if (source.heldOut != null) {
      calibrate(lethe, source.heldOut, out);
      return;
    }
    if (source.report != null && step != null) {
      source.report.step = step.name();
    }
    double epsilon = source.epsilon != null ? source.epsilon : fromReport(source.report);
    ModelConfig spec = lethe.setScale(name, epsilon);
    out.printf("model %s: scale %s%n", spec.name(), spec.scale());
  }

  private void calibrate(LetheClient lethe, HeldOut h, PrintWriter out) throws IOException {
    dev.lethe.store.ModelState model = lethe.describe(name);
    if (h.idsFrom == null && h.idColumn == null) {
      throw new IllegalArgumentException("--erase-like needs the rows' ids: --ids-from FILE or"
          + " --id-column N (the ids an Erase of them would carry)");
    }
    SampleData erase = SampleData.open(model, h.eraseLike, h.featureScale, h.featureOffset,
        h.idsFrom, h.idColumn);
    dev.lethe.core.Samples samples = erase.range(0, erase.size());
    dev.lethe.core.Samples holdout = all(model, h.holdout, h);
    dev.lethe.core.Samples retained = h.retained == null ? null : all(model, h.retained, h);
    dev.lethe.erase.ScaleCalibration.Result r = lethe.calibrateScale(
        new dev.lethe.erase.ScaleCalibration.Request(name, samples, holdout, retained, step,
            h.apply, h.maxAccuracyDrop));
    if (h.json) {
      out.println(Json.calibration(r));
    } else {
      out.printf("model %s version %d, step %s%s: %d samples erased hypothetically, %d held out%n",
          name, r.version(), r.step(), r.stepNote().isEmpty() ? "" : " (" + r.stepNote() + ")",
          samples.size(), holdout.size());
      out.printf("%10s %12s %12s %10s %12s%n", "epsilon", "erased loss", "holdout loss",
          "member AUC", "acc change");
      for (var p : r.curve()) {
        out.printf("%10.4g %12.4f %12.4f %10.3f %+11.2f%s%n", p.scale(), p.erasedMeanLoss(),
            p.holdoutMeanLoss(), p.membershipAuc(), p.retainedAccuracyChange(),
            p.scale() == r.scale() ? "  <- chosen" : "");
      }
      out.printf("chosen epsilon %.4g: %s%s%n", r.scale(), r.reason(),
          r.applied() ? "; written into the spec" : " (not applied: --apply writes it)");
      for (String w : r.warnings()) {
        out.printf("warning: %s%n", w);
      }
    }
    if (h.plot != null) {
      CalibrationPlot.write(r, h.plot);
      out.printf("curve written to %s%n", h.plot);
    }
  }

  private static dev.lethe.core.Samples all(dev.lethe.store.ModelState model, List<Path> files,
      HeldOut h) throws IOException {
    SampleData d = SampleData.open(model, files, h.featureScale, h.featureOffset, null, null);
    return d.range(0, d.size());
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
