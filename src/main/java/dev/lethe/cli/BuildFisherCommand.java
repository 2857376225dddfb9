package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import dev.lethe.core.Batches;
import dev.lethe.core.Samples;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.InversionMethod;
import java.io.PrintWriter;
import java.util.Iterator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "build-fisher", mixinStandardHelpOptions = true,
    description = {"Build a model's inverse-Fisher cache from its training data (IDX or CSV files), "
        + "streamed in batches, with a progress bar, rate and ETA on stderr.",
        "The sidecar keeps no samples after the build; the Fisher is attached to the version."})
final class BuildFisherCommand extends ClientCommand {
  @Option(names = "--model", required = true, description = "Model name.")
  String name;

  @Mixin DataOptions data;

  @Option(names = "--kind", defaultValue = "DEFAULT",
      description = "TRUE, EMPIRICAL (the paper's) or MONTE_CARLO; default: TRUE, or EMPIRICAL "
          + "with --minibatch > 1 (see docs/evaluation.md).")
  String kind;

  @Option(names = "--method", defaultValue = "GRAM", description = "GRAM or SHERMAN_MORRISON; default ${DEFAULT-VALUE}.")
  String method;

  @Option(names = "--block-size", defaultValue = "0", description = "Fisher block size (0 = the spec's).")
  int blockSize;

  @Option(names = "--minibatch", defaultValue = "0", description = "Gradients averaged per outer product (0 = the spec's).")
  int minibatch;

  @Option(names = "--draws", defaultValue = "0", description = "Labels drawn per sample for MONTE_CARLO (0 = 1).")
  int draws;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of the MONTE_CARLO draws.")
  long seed;

  @Option(names = "--version", defaultValue = "0", description = "Version whose weights to use (0 = active).")
  long version;

  @Option(names = "--batch", defaultValue = "256", description = "Samples per streamed message; default ${DEFAULT-VALUE}.")
  int batch;

  @Option(names = "--limit", defaultValue = "0", description = "Use only the first N samples (0 = all).")
  int limit;

  @Override
  void run(LetheClient lethe, PrintWriter out) throws Exception {
    Samples all = data.load(lethe, name, limit);
    int n = all.size();
    Iterator<Samples> batches = new Iterator<>() {
      private int next;

      @Override
      public boolean hasNext() {
        return next < n;
      }

      @Override
      public Samples next() {
        int from = next;
        next = Math.min(n, next + batch);
        return Batches.range(all, from, next);
      }
    };
    ProgressBar bar = new ProgressBar(spec.commandLine().getErr(), n);
    FisherRequest request = new FisherRequest(name,
        kind.equalsIgnoreCase("DEFAULT") ? null : CurvatureKind.valueOf(kind.toUpperCase()),
        InversionMethod.of(method.replace('_', '-')), blockSize, minibatch, draws, seed, version, n);
    FisherProgress done = lethe.buildFisher(request, batches,
        p -> bar.update(p.samplesSeen(), p.blocksDone(), p.blocksTotal()));
    bar.finish();
    FisherProgress.Summary s = done.summary();
    out.printf("fisher %s of %s version %d: %d samples, %d blocks, %.1f MB, %s %s, %d pass(es), %.1f s%n",
        s.fisherId(), name, s.version(), s.samples(), s.blocks(), s.bytes() / 1e6, s.kind(),
        s.method().id(), s.passes(), s.buildSeconds());
  }
}
