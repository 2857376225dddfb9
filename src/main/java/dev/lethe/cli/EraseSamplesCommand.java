package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import dev.lethe.core.Batches;
import dev.lethe.core.Samples;
import dev.lethe.erase.EraseCommand;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "erase", mixinStandardHelpOptions = true,
    description = {"Erase samples (rows of an IDX or CSV file) from a model by one SSSE step, "
        + "and print the response.",
        "Rows are chosen by id (--ids, the file's ids are <file name>:<row>) or by row number "
            + "(--rows); the ids sent are the file's ids."})
final class EraseSamplesCommand extends ClientCommand {
  @Option(names = "--model", required = true, description = "Model name.")
  String name;

  @Mixin DataOptions data;

  @Option(names = "--ids", split = ",", description = "Ids of the rows to erase.")
  List<String> ids = new ArrayList<>();

  @Option(names = "--rows", split = ",", description = "Row numbers to erase (0-based); a-b for a range.")
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
    Samples all = data.load(lethe, name, 0);
    List<Integer> chosen = new ArrayList<>();
    for (String id : ids) {
      int row = all.ids().indexOf(id);
      if (row < 0) {
        throw new IllegalArgumentException("--ids: '" + id + "' is not an id of " + data.first()
            + " (its ids look like " + all.ids().get(0) + ")");
      }
      chosen.add(row);
    }
    for (String r : rows) {
      String[] range = r.split("-");
      int from = Integer.parseInt(range[0].trim());
      int to = range.length > 1 ? Integer.parseInt(range[1].trim()) : from;
      for (int i = from; i <= to; i++) {
        if (i < 0 || i >= all.size()) {
          throw new IllegalArgumentException("--rows: " + i + " is not a row of " + data.first());
        }
        chosen.add(i);
      }
    }
    if (chosen.isEmpty()) {
      throw new IllegalArgumentException("name the samples to erase with --ids or --rows");
    }
    Samples batch = Batches.rows(all, chosen.stream().mapToInt(Integer::intValue).toArray());
    out.println(Json.erase(lethe.erase(
        new EraseCommand(name, requestId, batch, dryRun, expectedVersion, downdateFisher, step))));
  }
}
