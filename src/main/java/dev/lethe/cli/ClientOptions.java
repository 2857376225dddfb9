package dev.lethe.cli;

import picocli.CommandLine.Option;

/** Options shared by commands that talk to a running sidecar. */
final class ClientOptions {
  @Option(
      names = "--target",
      defaultValue = "${env:LETHE_TARGET:-127.0.0.1:50051}",
      description = "Server address host:port (env LETHE_TARGET; default ${DEFAULT-VALUE}).")
  String target;
}
