package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import dev.lethe.core.Samples;
import dev.lethe.erase.EraseCommand;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "erase",
    description = {"Erase samples (rows of an IDX or CSV file) from a model by one SSSE step, "
        + "and print the response (JSON, as grpcurl prints it).",
        "The rows' ids come from you: --ids-from FILE (one id per data row) or --id-column N of a "
            + "CSV; they are what the ledger records and CheckErasure answers for. Rows are then "
            + "chosen by id (--ids) or by row number (--rows). Features are preprocessed as the "
            + "spec says (feature_scale, feature_offset)."})
final class EraseSamplesCommand extends ClientCommand {
  @Option(names = "--model", required = true, paramLabel = "NAME", description = "Model name.")
  String name;

  @Mixin DataOptions data;

  @Option(names = "--ids", split = ",", paramLabel = "ID", description = "Ids of the rows to erase (as --ids-from/--id-column give them).")
  List<String> ids = new ArrayList<>();

  @Option(names = "--rows", split = ",", paramLabel = "ROWS", description = "Row numbers to erase (0-based); a-b for a range.")
  List<String> rows = new ArrayList<>();

  @Option(names = "--request-id", defaultValue = "", description = "Idempotency key: a repeat returns the first response.")
  String requestId;

  @Option(names = "--dry-run", description = "Compute and report, change nothing.")
  boolean dryRun;

  @Option(names = "--expected-version", defaultValue = "0", description = "Refuse unless this version is active (0 = any).")
  long expectedVersion;

  @Option(names = "--downdate-fisher", description = "Also remove the erased samples from the Fisher.")
  boolean downdateFisher;

  @Option(names = "--step", description = "Which Fisher the step solves with: LEAVE_OUT (eq. 1,"
      + " F of the samples kept; the default where the Fisher allows it) or FULL_FISHER (eq. 4,"
      + " the stored F). Default: LEAVE_OUT, falling back to FULL_FISHER with a step_note.")
  dev.lethe.core.ErasureStep step;

  @Override
  void run(LetheClient lethe, PrintWriter out) throws Exception {
    if (ids.isEmpty() && rows.isEmpty()) {
      throw new IllegalArgumentException("name the samples to erase with --ids or --rows");
    }
    if (data.idsFrom == null && data.idColumn == null) {
      throw new IllegalArgumentException("erase needs the rows' sample ids: --ids-from FILE (one "
          + "id per data row) or --id-column N (a CSV column); they are what the ledger records");
    }
    SampleData all = data.open(lethe.describe(name));
    List<Integer> chosen = new ArrayList<>();
    for (String id : ids) {
      int row = all.rowOf(id);
      if (row < 0) {
        throw new IllegalArgumentException("--ids: '" + id + "' is not an id of the data (its ids: "
            + all.someIds() + ")");
      }
      chosen.add(row);
    }
    chosen.addAll(RowSelection.parse("--rows", rows, all.size(), data.first().toString()));
    int[] selected = chosen.stream().mapToInt(Integer::intValue).toArray();
    Samples batch = all.rows(selected);
    for (int r : selected) {
      String warning = all.rangeWarning(r, r + 1);
      if (warning != null) {
        spec.commandLine().getErr().println(warning);
        break;
      }
    }
    out.println(Json.erase(lethe.erase(
        new EraseCommand(name, requestId, batch, dryRun, expectedVersion, downdateFisher, step))));
  }
}
