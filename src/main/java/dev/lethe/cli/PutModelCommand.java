package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "put-model", mixinStandardHelpOptions = true,
    description = "Upload an ONNX model (a new model, or a new version of one with the same graph).")
final class PutModelCommand extends ClientCommand {
  @Parameters(index = "0", description = "The .onnx file.")
  Path file;

  @Option(names = "--name", required = true, description = "Model name ([A-Za-z0-9._-]).")
  String name;

  @Option(names = "--loss", required = true,
      description = "Training loss: ${COMPLETION-CANDIDATES}.")
  LossFunction loss;

  @Option(names = "--logits", defaultValue = "",
      description = "The logits value (default: the graph's single output).")
  String logits;

  @Option(names = "--erasable", split = ",",
      description = "Erasable parameters (initializer names; default: every float initializer of a differentiable op).")
  List<String> erasable = new ArrayList<>();

  @Option(names = "--train-size", defaultValue = "0", description = "n: samples the weights were trained on.")
  long trainSize;

  @Option(names = "--l2", defaultValue = "0", description = "mu: L2 weight decay used in training.")
  double l2;

  @Option(names = "--dampening", defaultValue = "0", description = "lambda (default mu, or 1e-4).")
  double dampening;

  @Option(names = "--scale", defaultValue = "0", description = "epsilon of the SSSE step (default 1).")
  double scale;

  @Option(names = "--block-size", defaultValue = "0", description = "Fisher block size (default 1024).")
  int blockSize;

  @Option(names = "--trained-without-erased", description = "Attest that this new version was "
      + "trained without every sample erased so far (required while erasures are in effect).")
  boolean trainedWithoutErased;

  @Option(names = "--fisher-minibatch", defaultValue = "0", description = "Gradients averaged per Fisher outer product (default 1).")
  int fisherMinibatch;

  @Override
  void run(LetheClient lethe, PrintWriter out) throws Exception {
    ModelConfig spec = new ModelConfig(name, loss, logits, erasable, trainSize, l2, dampening, scale,
        blockSize, fisherMinibatch);
    try (InputStream in = Files.newInputStream(file)) {
      out.println(Json.model(lethe.putModel(spec, in, trainedWithoutErased)));
    }
  }
}
