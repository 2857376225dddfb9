package dev.lethe.experiment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.lethe.fisher.CurvatureKind;
import dev.lethe.store.ModelState;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code lethe evaluate --quick}: the whole evaluation pipeline (training, BuildFisher, erases
 * through a real sidecar on loopback, SetScale, retraining, SISA, report) on real Fashion-MNIST,
 * with floors on its figures. About 2 minutes on 2 cores.
 */
class QuickEvaluationTest {
  static final Path FASHION = Path.of("../shared/data/fashion-mnist");
  /** Issue 6: convex mean γ at ε* above this in quick mode. */
  static final double CONVEX_GAMMA_FLOOR = 0.75;

  @TempDir Path dir;

  @Test
  void quickEvaluationMeetsItsFloorsAndWritesTheReport() throws Exception {
    assumeTrue(Files.isRegularFile(FASHION.resolve("train-images-idx3-ubyte.gz")),
        "Fashion-MNIST not in " + FASHION.toAbsolutePath() + "; skipping the quick evaluation");
    System.setProperty("java.awt.headless", "true");
    EvaluationPlan plan = EvaluationPlan.quick();
    ErasureEvaluation.Results r;
    List<ModelState> models;
    try (Sidecar sidecar = Sidecar.embedded(1L << 30)) {
      r = ErasureEvaluation.run(plan, sidecar, FASHION, System.out::println);
      models = sidecar.client().listModels();
    }
    ErasureEvaluation.FamilyResults convex = r.convex();
    for (FisherSetting s : convex.settings()) {
      List<TrialResult> reported = Plots.reported(convex, s);
      assertEquals(plan.reportAttributes().length * plan.ratios().length, reported.size());
      double gamma = Report.mean(reported, TrialResult::gamma);
      if (s.kind() != CurvatureKind.MONTE_CARLO) {
        assertTrue(gamma > CONVEX_GAMMA_FLOOR, s.label() + ": convex mean γ at ε* " + gamma);
      }
      // the report split erased with the ε* that calibration wrote into the spec
      double epsilon = reported.get(0).epsilon();
      assertTrue(models.stream().anyMatch(m -> m.spec().scale() == epsilon), s.label()
          + " spec scale " + epsilon + " not in " + models.stream()
              .map(m -> m.name() + " " + m.spec().scale()).toList());
      for (TrialResult t : reported) {
        // erasing must move θ towards the retrained model
        assertTrue(t.distance() < 1, t.removal().label() + ": distance " + t.distance());
      }
    }
    // The true Fisher is the exact Hessian of this model: it lands closer to retraining.
    double trueDistance = Report.mean(Plots.reported(convex, convex.settings().get(0)),
        TrialResult::distance);
    double empiricalDistance = Report.mean(Plots.reported(convex, convex.settings().get(1)),
        TrialResult::distance);
    assertEquals(CurvatureKind.TRUE, convex.settings().get(0).kind());
    assertTrue(trueDistance < empiricalDistance, trueDistance + " vs " + empiricalDistance);
    assertTrue(convex.testAccuracy() > 0.85, "convex test accuracy " + convex.testAccuracy());
    assertTrue(r.mlp().testAccuracy() > 0.6, "MLP test accuracy " + r.mlp().testAccuracy());
    assertEquals(plan.shards().length, r.mlp().sisa().size());

    Path md = Report.write(r, dir.resolve("evaluation.md"), "test");
    String text = Files.readString(md);
    assertTrue(text.contains("## Targets") && text.contains("SISA S = 5"), text);
    for (String f : List.of("convex-epsilon.png", "convex-settings.png", "convex-accuracy.png",
        "mlp-epsilon.png", "mlp-settings.png", "mlp-accuracy.png")) {
      BufferedImage image = ImageIO.read(dir.resolve("evaluation").resolve(f).toFile());
      assertTrue(image != null && image.getWidth() > 100, f);
    }
    long rows = Files.readAllLines(dir.resolve("evaluation/results.csv")).size();
    assertEquals(1 + convex.trials().size() + r.mlp().trials().size(), rows);
  }
}
