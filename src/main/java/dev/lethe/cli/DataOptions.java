package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import dev.lethe.core.Samples;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** Options of commands that send samples read from IDX or CSV files. */
final class DataOptions {
  @Option(names = "--data", required = true, arity = "1..2",
      description = "Data file(s): CSV (features, then the label) or IDX images (labels beside them, or a second file).")
  List<Path> data;

  @Option(names = "--scale", defaultValue = "1",
      description = "Multiply every feature by this (e.g. 0.00392156862745098 for 1/255); default ${DEFAULT-VALUE}.")
  float scale;

  /** The first {@code limit} samples (0 = all), shaped for the model {@code name}. */
  Samples load(LetheClient lethe, String name, int limit) throws IOException {
    return SampleFiles.load(lethe.describe(name), data, scale, limit);
  }

  Path first() {
    return data.get(0);
  }
}
