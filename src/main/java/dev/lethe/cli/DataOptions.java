package dev.lethe.cli;

import dev.lethe.store.ModelState;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * Options of the commands that send samples read from IDX or CSV files (score, gradients,
 * build-fisher, erase): the files, the rows' ids, and the input preprocessing, which defaults to
 * the model's spec (feature_scale, feature_offset).
 */
final class DataOptions {
  @Option(names = "--data", required = true, arity = "1..2", paramLabel = "FILE",
      description = "Data file(s): CSV (features, then the label) or IDX images (labels beside them, or a second file).")
  List<Path> data;

  @Option(names = "--feature-scale", paramLabel = "S",
      description = "Send each raw feature x as x * S + offset; default: the model's spec.feature_scale "
          + "(set at put-model), e.g. 0.00392156862745098 for bytes 0..255 to [0,1].")
  Double featureScale;

  @Option(names = "--feature-offset", paramLabel = "O",
      description = "Added after --feature-scale; default: the model's spec.feature_offset.")
  Double featureOffset;

  @Option(names = "--ids-from", paramLabel = "FILE",
      description = "The rows' sample ids, one per line, one line per data row (the ids Erase records "
          + "and CheckErasure answers for).")
  Path idsFrom;

  @Option(names = "--id-column", paramLabel = "N",
      description = "CSV only: column N (0-based, before the label) holds each row's id; it is not a feature.")
  Integer idColumn;

  /** The files' samples, shaped and preprocessed for {@code model}. */
  SampleData open(ModelState model) throws IOException {
    if (idsFrom != null && idColumn != null) {
      throw new IllegalArgumentException("give the ids by --ids-from or --id-column, not both");
    }
    return SampleData.open(model, data, featureScale, featureOffset, idsFrom, idColumn);
  }

  Path first() {
    return data.get(0);
  }
}
