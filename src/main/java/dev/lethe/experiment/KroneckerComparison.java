package dev.lethe.experiment;

import dev.lethe.core.ErasureStep;
import dev.lethe.data.DataFiles;
import dev.lethe.data.Dataset;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherStructure;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * {@code lethe evaluate --kronecker}: only the MLP experiment of the full plan (its data, MLP,
 * removals and ε = 1), with TRUE block-diagonal Fishers at B = 256 and 1024 beside TRUE KFAC
 * and EKFAC, both erase steps; prints per Fisher and step the mean over the reported removals of
 * γ (the erased model's distance to retraining relative to the original's), the test and forget
 * accuracy gaps to retraining and the membership AUC, with each Fisher's build time and storage.
 * No calibration, noise floor or SISA (the full evaluation has them).
 */
public final class KroneckerComparison {
  private KroneckerComparison() {}

  /** The settings compared. */
  static List<FisherSetting> settings() {
    return List.of(new FisherSetting(CurvatureKind.TRUE, 256, 1),
        new FisherSetting(CurvatureKind.TRUE, 1024, 1),
        FisherSetting.kronecker(CurvatureKind.TRUE, FisherStructure.KFAC, 256),
        FisherSetting.kronecker(CurvatureKind.TRUE, FisherStructure.EKFAC, 256));
  }

  /** Runs it and returns the table (Markdown). */
  public static String run(Path fashionDir, long fisherMemoryBytes, Consumer<String> log)
      throws Exception {
    EvaluationPlan plan = EvaluationPlan.full();
    Path trainImages = fashionDir.resolve("train-images-idx3-ubyte.gz");
    Path testImages = fashionDir.resolve("t10k-images-idx3-ubyte.gz");
    if (!Files.isRegularFile(trainImages) || !Files.isRegularFile(testImages)) {
      throw new IllegalArgumentException("Fashion-MNIST not found in " + fashionDir.toAbsolutePath());
    }
    Dataset train = DataFiles.load(trainImages).withIdPrefix("fmnist-train");
    Dataset test = DataFiles.load(testImages).withIdPrefix("fmnist-test");
    try (Sidecar sidecar = Sidecar.embedded(fisherMemoryBytes)) {
      MlpFamily mlp = new MlpFamily(train, test, plan.mlpTrain(), plan.mlpTest(), plan.mlp());
      ErasureRunner runner = new ErasureRunner(mlp, sidecar.client(), plan.grid(), log);
      List<Removal> removals = ErasureEvaluation.mlpRemovals(plan, train);
      runner.trained();
      runner.retrainAll(removals);
      List<TrialResult> trials = new ArrayList<>();
      for (FisherSetting s : settings()) {
        trials.addAll(runner.run(s, removals));
      }
      StringBuilder out = new StringBuilder();
      out.append(String.format("MLP 784-%d-10, %d training samples, %d epochs; reported removals"
          + " (class %d whole, 10%%, 1%% random, 1 sample), means at ε = 1%n%n", plan.mlp().hidden(),
          plan.mlpTrain(), plan.mlp().epochs(), plan.reportClass()));
      out.append("| Fisher | step | γ at ε=1 | test acc. gap | forget acc. gap | membership AUC at ε*"
          + " (erased / retrained) | erase ms | build s | stored MB |\n");
      out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
      for (FisherSetting s : settings()) {
        FisherProgress.Summary b = runner.builds.get(s.fisherLabel());
        for (ErasureStep step : s.steps()) {
          double gamma = 0;
          double testGap = 0;
          double forgetGap = 0;
          double aucErased = 0;
          double aucRetrained = 0;
          double ms = 0;
          int count = 0;
          for (TrialResult t : trials) {
            if (t.removal().calibration() || !t.setting().fisherLabel().equals(s.fisherLabel())
                || t.setting().step() != step) {
              continue;
            }
            gamma += t.gammaAtOne();
            testGap += t.accuracyAtOne()[2] - t.accuracyRetrained()[2];
            forgetGap += t.accuracyAtOne()[0] - t.accuracyRetrained()[0];
            aucErased += t.membership()[1];
            aucRetrained += t.membership()[2];
            ms += t.eraseMs();
            count++;
          }
          out.append(String.format("| %s | %s | %.3f | %+.4f | %+.4f | %.3f / %.3f | %.0f | %.1f | %.1f |%n",
              s.fisherLabel(), step, gamma / count, testGap / count, forgetGap / count,
              aucErased / count, aucRetrained / count, ms / count,
              b == null ? Double.NaN : b.buildSeconds(), b == null ? Double.NaN : b.bytes() / 1e6));
        }
      }
      return out.toString();
    }
  }
}
