package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "get-model",
    description = "Download a version's ONNX file (checked against its sha256).")
final class GetModelCommand extends ClientCommand {
  @Mixin ModelVersion model;

  @Option(names = {"-o", "--output"}, required = true, description = "Where to write the .onnx file.")
  Path output;

  @Override
  void run(LetheClient lethe, PrintWriter out) throws Exception {
    Path dir = output.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, ".lethe-download", ".tmp");
    try {
      LetheClient.Download d;
      try (OutputStream os = Files.newOutputStream(tmp)) {
        d = lethe.getModel(model.name, model.version, os);
      }
      Files.move(tmp, output, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      out.printf("%s version %d: %d bytes, sha256 %s -> %s%n", d.name(), d.version(), d.sizeBytes(),
          d.sha256(), output);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
