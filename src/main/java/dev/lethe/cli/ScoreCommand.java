package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import dev.lethe.eval.Evaluation;
import java.io.PrintWriter;
import java.util.Arrays;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "score",
    description = {"Score a version (the Evaluate RPC: loss, accuracy, AUC) on labelled samples "
            + "from IDX or CSV files.",
        "CSV: features then the label per row (gzip allowed). IDX: an images file; its labels file "
            + "is found beside it or given as a second --data. Features are preprocessed as the "
            + "spec says (feature_scale, feature_offset) unless --feature-scale/--feature-offset."})
final class ScoreCommand extends ClientCommand {
  @Mixin ModelVersion model;

  @Mixin DataOptions data;

  @Option(names = "--limit", defaultValue = "0", description = "Use only the first N samples (0 = all).")
  int limit;

  @Override
  void run(LetheClient lethe, PrintWriter out) throws Exception {
    SampleData samples = data.open(lethe.describe(model.name));
    int n = limit > 0 ? Math.min(limit, samples.size()) : samples.size();
    String warning = samples.rangeWarning(0, n);
    if (warning != null) {
      spec.commandLine().getErr().println(warning);
    }
    Evaluation e = lethe.evaluate(model.name, model.version, samples.range(0, n));
    out.printf("model %s version %d on %d samples of %s%n", model.name, e.version(), n, data.first());
    out.printf("mean loss %.6f%n", e.meanLoss());
    out.printf("accuracy  %.4f%n", e.accuracy());
    double meanAuc = Arrays.stream(e.auc()).filter(Double::isFinite).average().orElse(Double.NaN);
    out.printf("mean AUC  %.4f over %d attributes/classes%n", meanAuc, e.auc().length);
  }
}
