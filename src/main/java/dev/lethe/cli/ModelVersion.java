package dev.lethe.cli;

import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Options of commands that read one version of a model: its name, then --version. */
final class ModelVersion {
  @Parameters(index = "0", description = "Model name.")
  String name;

  @Option(names = "--version", defaultValue = "0", description = "Version (0 = active, the default).")
  long version;
}
