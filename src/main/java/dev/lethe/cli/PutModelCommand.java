package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.ModelFormat;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "put-model",
    description = {"Upload an ONNX or TorchScript model (a new model, or a new version of one with "
        + "the same graph) and print its ModelInfo (JSON, as grpcurl prints it).",
        "The format is --format, else TORCHSCRIPT for a .pt/.pth/.ptl file and ONNX for .onnx, else "
            + "the server's detection (a zip archive is TorchScript). A TorchScript archive declares "
            + "its inputs in its extra file lethe.json (README, \"TorchScript models\").",
        "--train-size is required: n, the number of samples the weights were trained on. The input "
            + "preprocessing (--feature-scale, --feature-offset) is stored in the spec and used by "
            + "every data command (score, gradients, build-fisher, erase)."})
final class PutModelCommand extends ClientCommand {
  @Parameters(index = "0", paramLabel = "FILE", description = "The .onnx or TorchScript (.pt) file.")
  Path file;

  @Option(names = "--name", required = true, description = "Model name ([A-Za-z0-9._-]).")
  String name;

  @Option(names = "--loss", required = true,
      description = "Training loss: ${COMPLETION-CANDIDATES}.")
  LossFunction loss;

  @Option(names = "--logits", defaultValue = "",
      description = "The logits value (default: the graph's single output; TorchScript: the "
          + "position of a tuple output's element, or a dict output's key).")
  String logits;

  @Option(names = "--erasable", split = ",",
      description = "Erasable parameters (ONNX: initializer names, default every float initializer of "
          + "a differentiable op; TorchScript: state_dict keys, default every parameter that "
          + "requires grad).")
  List<String> erasable = new ArrayList<>();

  @Option(names = "--train-size", required = true, paramLabel = "N",
      description = "n: samples the weights were trained on (required).")
  long trainSize;

  @Option(names = "--format", description = "spec.format: ${COMPLETION-CANDIDATES} (default: by "
      + "the file's extension, else detected by the server).")
  ModelFormat format;

  @Mixin SpecOptions specOptions;

  @Option(names = "--trained-without-erased", description = "Attest that this new version was "
      + "trained without every sample erased so far (required while erasures are in effect).")
  boolean trainedWithoutErased;

  @Override
  void run(LetheClient lethe, PrintWriter out) throws Exception {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(file + ": no such file");
    }
    ModelConfig spec = specOptions.apply(new ModelConfig(name, loss, logits, erasable, trainSize,
        0, 0, 0, 0, 0).withFormat(format != null ? format : byExtension(file)));
    try (InputStream in = Files.newInputStream(file)) {
      out.println(Json.model(lethe.putModel(spec, in, trainedWithoutErased)));
    }
  }

  /** TORCHSCRIPT for .pt, .pth and .ptl, ONNX for .onnx, else null (the server detects). */
  static ModelFormat byExtension(Path file) {
    String n = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
    if (n.endsWith(".pt") || n.endsWith(".pth") || n.endsWith(".ptl")) {
      return ModelFormat.TORCHSCRIPT;
    }
    return n.endsWith(".onnx") ? ModelFormat.ONNX : null;
  }
}
