package dev.lethe.cli;

import dev.lethe.experiment.ErasureEvaluation;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Runs the erasure-quality evaluation against retraining from scratch and writes its report. */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
    description = {"Erasure quality against retraining from scratch, end to end through the "
        + "public API: trains a convex multi-attribute model and an MLP on Fashion-MNIST, "
        + "erases with every Fisher setting and both steps (LEAVE_OUT, FULL_FISHER), measures "
        + "them at epsilon = 1 and at an epsilon calibrated on one split (SetScale) and reported "
        + "on another, beside retrained models (the MLP's with several seeds: the noise floor) "
        + "and the SISA baseline; beside the retrain-calibrated epsilon* the epsilon "
        + "CalibrateScale chooses on held-out data without retraining, and an MLP stopped "
        + "early as a case of its own; writes a Markdown report with PNG figures and a CSV of every "
        + "removal. The full run takes about half an hour on 2 idle cores; --quick a few "
        + "minutes. (To score one version on samples: `lethe score`.)"})
final class EvaluateCommand implements Callable<Integer> {
  @Option(names = "--quick", description = "The reduced plan the test suite runs.")
  boolean quick;

  @Option(names = "--data", defaultValue = "${env:LETHE_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}",
      description = "Folder with Fashion-MNIST's four IDX .gz files (env LETHE_FASHION_MNIST; "
          + "default ${DEFAULT-VALUE}, where Debian's dataset-fashion-mnist installs them).")
  Path data;

  @Option(names = "--out", defaultValue = "evaluation.md",
      description = "Report file; figures and results.csv go to a folder of the same name beside "
          + "it (default ${DEFAULT-VALUE}).")
  Path out;

  @Option(names = "--sidecar", defaultValue = "${env:LETHE_EVALUATE_TARGET}",
      description = "host:port of a running sidecar to evaluate against, plaintext (env "
          + "LETHE_EVALUATE_TARGET; default: an embedded sidecar with a temporary store). It "
          + "must allow erases of up to a whole class (--max-erase-samples, --max-update-ratio).")
  String sidecar;

  @Option(names = "--token", defaultValue = "${env:LETHE_TOKEN}",
      description = "Write token for --sidecar (env LETHE_TOKEN).")
  String token;

  @Option(names = "--reference-only",
      description = "Only each family's reference Fisher (TRUE, both steps) and the smallest "
          + "SISA shard count: the held-out calibration and the early-stopped MLP at about a "
          + "third of the full run's time.")
  boolean referenceOnly;

  @Option(names = "--mlp-epochs", defaultValue = "0",
      description = "Train the MLP for this many epochs instead of the plan's (20 full, 4 quick).")
  int mlpEpochs;

  @Option(names = "--kronecker",
      description = "Only the MLP experiment, TRUE block-diagonal (B = 256, 1024) beside TRUE KFAC and EKFAC at ε = 1: prints a table (a few minutes; see docs/fisher.md).")
  boolean kronecker;

  @Option(names = "--fisher-memory-mb", defaultValue = "4096",
      description = "Fisher build memory budget of the embedded sidecar, MiB (default ${DEFAULT-VALUE}).")
  long fisherMemoryMb;

  @Override
  public Integer call() throws Exception {
    long t0 = System.nanoTime();
    if (kronecker) {
      System.out.println(dev.lethe.experiment.KroneckerComparison.run(data, fisherMemoryMb << 20,
          line -> System.err.printf("[%6.1f s] %s%n", (System.nanoTime() - t0) / 1e9, line)));
      return 0;
    }
    String command = "java -jar target/lethe.jar evaluate" + (quick ? " --quick" : "")
        + (mlpEpochs > 0 ? " --mlp-epochs " + mlpEpochs : "")
        + (referenceOnly ? " --reference-only" : "") + " --data " + data + " --out " + out;
    List<String> targets = ErasureEvaluation.runAndReport(quick, mlpEpochs, referenceOnly,
        sidecar, token, data,
        out, fisherMemoryMb << 20, command,
        line -> System.err.printf("[%6.1f s] %s%n", (System.nanoTime() - t0) / 1e9, line));
    System.out.println("report written to " + out);
    targets.forEach(System.out::println);
    return 0;
  }
}
