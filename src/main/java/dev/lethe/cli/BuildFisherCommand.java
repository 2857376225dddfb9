package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import dev.lethe.core.Samples;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.InversionMethod;
import dev.lethe.store.ModelState;
import dev.lethe.store.VersionState;
import java.io.PrintWriter;
import java.util.Iterator;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "build-fisher",
    description = {"Build a model's inverse-Fisher cache from its training data (IDX or CSV files), "
        + "streamed in batches, with a progress bar, rate and ETA on stderr.",
        "Sends the version's train_size rows (the first ones of the file) and refuses a file with "
            + "fewer; --limit or --rows choose others. Features are preprocessed as the spec says "
            + "(feature_scale, feature_offset). The sidecar keeps no samples after the build; the "
            + "Fisher is attached to the version."})
final class BuildFisherCommand extends ClientCommand {
  @Option(names = "--model", required = true, paramLabel = "NAME", description = "Model name.")
  String name;

  @Mixin DataOptions data;

  @Option(names = "--kind", defaultValue = "DEFAULT",
      description = "TRUE, EMPIRICAL (the paper's) or MONTE_CARLO; default: TRUE, or EMPIRICAL "
          + "with --minibatch > 1 (see docs/evaluation.md).")
  String kind;

  @Option(names = "--method", defaultValue = "GRAM", description = "GRAM or SHERMAN_MORRISON; default ${DEFAULT-VALUE}.")
  String method;

  @Option(names = "--structure", defaultValue = "AUTO",
      description = "AUTO, BLOCK_DIAGONAL, KFAC or EKFAC (KFAC/EKFAC: ONNX models); default ${DEFAULT-VALUE}: block-diagonal while it fits the server's --fisher-storage-budget-bytes, else EKFAC.")
  String structure;

  @Option(names = "--storage-budget-bytes", defaultValue = "0",
      description = "AUTO's budget for the block-diagonal Fisher (0 = the server's --fisher-storage-budget-bytes).")
  long storageBudgetBytes;

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

  @Option(names = "--limit", defaultValue = "0",
      description = "Send the first N rows instead of train_size (the Fisher then covers N samples).")
  int limit;

  @Option(names = "--rows", paramLabel = "A-B",
      description = "Send rows A..B (0-based, inclusive) instead of the first train_size.")
  String rows;

  @Override
  void run(LetheClient lethe, PrintWriter out) throws Exception {
    if (batch < 1) {
      throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
    }
    if (limit < 0) {
      throw new IllegalArgumentException("--limit must be >= 0, got " + limit);
    }
    if (limit > 0 && rows != null) {
      throw new IllegalArgumentException("give --limit or --rows, not both");
    }
    CurvatureKind curvature = null;
    if (!kind.equalsIgnoreCase("DEFAULT")) {
      try {
        curvature = CurvatureKind.valueOf(kind.toUpperCase(java.util.Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--kind: '" + kind + "' is not one of "
            + java.util.Arrays.toString(CurvatureKind.values()));
      }
    }
    dev.lethe.fisher.FisherStructure shape;
    try {
      shape = dev.lethe.fisher.FisherStructure.valueOf(structure.toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--structure: '" + structure + "' is not one of "
          + java.util.Arrays.toString(dev.lethe.fisher.FisherStructure.values()));
    }
    if (storageBudgetBytes < 0) {
      throw new IllegalArgumentException("--storage-budget-bytes must be >= 0, got " + storageBudgetBytes);
    }
    ModelState model = lethe.describe(name);
    long trainSize = trainSize(model);
    SampleData samples = data.open(model);
    int from = 0;
    int to;
    if (rows != null) {
      List<Integer> chosen = RowSelection.parse("--rows", List.of(rows), samples.size(),
          data.first().toString());
      from = chosen.get(0);
      to = chosen.get(chosen.size() - 1) + 1;
    } else if (limit > 0) {
      if (limit > samples.size()) {
        throw new IllegalArgumentException("--limit " + limit + ": " + data.first() + " has only "
            + samples.size() + " rows");
      }
      to = limit;
    } else {
      if (samples.size() < trainSize) {
        throw new IllegalArgumentException("--data: " + data.first() + " has " + samples.size()
            + " rows but model '" + name + "' version " + versionLabel(model) + " was trained on "
            + trainSize + " (train_size); give its training set, or choose rows with --limit or "
            + "--rows");
      }
      to = (int) trainSize;
      if (samples.size() > trainSize) {
        spec.commandLine().getErr().println("note: sending the first " + trainSize + " of "
            + samples.size() + " rows (the model's train_size)");
      }
    }
    String warning = samples.rangeWarning(from, to);
    if (warning != null) {
      spec.commandLine().getErr().println(warning);
    }
    int first = from;
    int end = to;
    Iterator<Samples> batches = new Iterator<>() {
      private int next = first;

      @Override
      public boolean hasNext() {
        return next < end;
      }

      @Override
      public Samples next() {
        int start = next;
        next = Math.min(end, next + batch);
        return samples.range(start, next);
      }
    };
    int n = to - from;
    ProgressBar bar = new ProgressBar(spec.commandLine().getErr(), n);
    FisherRequest request = new FisherRequest(name,
        curvature,
        InversionMethod.of(method.replace('_', '-')), blockSize, minibatch, draws, seed, version, n,
        shape, storageBudgetBytes);
    FisherProgress done = lethe.buildFisher(request, batches,
        p -> bar.update(p.samplesSeen(), p.blocksDone(), p.blocksTotal()));
    bar.finish();
    FisherProgress.Summary s = done.summary();
    out.printf("fisher %s of %s version %d: %d samples, %d blocks, %.1f MB, %s %s, %d pass(es), %.1f s%n",
        s.fisherId(), name, s.version(), s.samples(), s.blocks(), s.bytes() / 1e6, s.kind(),
        s.method().id(), s.passes(), s.buildSeconds());
    out.printf("structure %s (%s)%n", s.structure().id(), s.structureReason());
  }

  private String versionLabel(ModelState model) {
    return Long.toString(version == 0 ? model.activeVersion() : version);
  }

  private long trainSize(ModelState model) {
    long v = version == 0 ? model.activeVersion() : version;
    for (VersionState s : model.versions()) {
      if (s.version() == v) {
        return s.trainSize();
      }
    }
    throw new IllegalArgumentException("--version " + version + ": model '" + name
        + "' keeps versions " + model.versions().stream().map(VersionState::version).toList());
  }
}
