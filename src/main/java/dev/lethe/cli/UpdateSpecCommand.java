package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import java.io.PrintWriter;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "update-spec",
    description = {"Correct spec fields that are safe to change (the UpdateSpec RPC) and print the "
        + "ModelInfo (JSON, as grpcurl prints it); creates no version; needs a write token where "
        + "the server has tokens.",
        "Always: --epsilon, --block-size, --fisher-minibatch, --feature-scale, --feature-offset, "
            + "--feature-range. While no kept version has a Fisher and no erase was made: "
            + "--train-size (of the active version), --l2, --dampening."})
final class UpdateSpecCommand extends ClientCommand {
  @Parameters(index = "0", paramLabel = "NAME", description = "Model name.")
  String name;

  @Option(names = "--train-size", paramLabel = "N", description = "spec.train_size of the active version.")
  Long trainSize;

  @Mixin SpecOptions specOptions;

  @Override
  void run(LetheClient lethe, PrintWriter out) {
    List<String> fields = new java.util.ArrayList<>(specOptions.fields());
    if (trainSize != null) {
      fields.add(0, "train_size");
    }
    if (fields.isEmpty()) {
      throw new IllegalArgumentException("name at least one field to set (see --help)");
    }
    ModelConfig values = specOptions.apply(new ModelConfig(name, LossFunction.SOFTMAX_CROSS_ENTROPY,
        "", List.of(), trainSize == null ? 0 : trainSize, 0, 0, 0, 0, 0));
    out.println(Json.model(lethe.updateSpec(name, values, fields)));
  }
}
