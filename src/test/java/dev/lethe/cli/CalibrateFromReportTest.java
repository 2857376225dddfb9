package dev.lethe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code lethe calibrate --from}: ε* of a family, Fisher and step from evaluate's results.csv. */
class CalibrateFromReportTest {
  @TempDir Path dir;

  private static CalibrateCommand.FromReport from(Path csv, String step) {
    CalibrateCommand.FromReport r = new CalibrateCommand.FromReport();
    r.csv = csv;
    r.family = "mlp";
    r.fisher = "TRUE B=256 m=1";
    r.step = step;
    return r;
  }

  @Test
  void readsTheReportRowOfTheNamedStep() throws Exception {
    Path csv = dir.resolve("results.csv");
    Files.writeString(csv, "family,fisher,split,group,removal,k,epsilon,gamma,step\n"
        + "mlp,TRUE B=256 m=1,calibration,whole class,\"class 0, all samples\",500,1,0.7,LEAVE_OUT\n"
        + "mlp,TRUE B=256 m=1,report,whole class,\"class 3, all samples\",501,0.562,0.7,LEAVE_OUT\n"
        + "mlp,TRUE B=256 m=1,report,whole class,\"class 3, all samples\",501,0.274,0.7,FULL_FISHER\n");
    assertEquals(0.562, CalibrateCommand.fromReport(from(csv, "LEAVE_OUT")));
    assertEquals(0.274, CalibrateCommand.fromReport(from(csv, "FULL_FISHER")));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> CalibrateCommand.fromReport(from(csv, "NEWTON")));
    assertTrue(e.getMessage().contains("with step NEWTON"), e.getMessage());
  }

  @Test
  void aFileWithoutAStepColumnHasOneStep() throws Exception {
    Path csv = dir.resolve("old.csv");
    Files.writeString(csv, "family,fisher,split,group,removal,k,epsilon,gamma\n"
        + "mlp,TRUE B=256 m=1,report,whole class,\"class 3, all samples\",501,0.274,0.7\n");
    assertEquals(0.274, CalibrateCommand.fromReport(from(csv, "LEAVE_OUT")));
  }
}
