package dev.lethe.experiment;

import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.FisherStructure;
import dev.lethe.train.MlpConfig;
import java.util.List;

/**
 * What an evaluation run measures. {@link #full()} is the report's run; {@link #quick()} is the
 * same pipeline on less data, fewer removals and settings (it runs in the test suite). Every
 * Fisher setting runs both erase steps where it can (issue 18), so the full plan keeps each
 * Fisher kind and the mini-batch variant at one block size (the block-size sweeps of issue 6's
 * report are gone) and, as the issue's own check did, an MLP of 64 hidden units.
 *
 * @param convexPairs training samples of the convex experiment (pairs of images)
 * @param convexTestPairs its test samples
 * @param mu the convex model's L2 weight decay μ (= the dampening λ by Lethe's default)
 * @param calibrationAttributes attributes whose removals choose ε*
 * @param reportAttributes attributes whose removals are reported (disjoint from the above)
 * @param ratios fractions of an attribute's samples removed
 * @param convexSettings Fisher settings of the convex experiment (the first is the reference)
 * @param mlpTrain training images of the MLP experiment
 * @param mlpTest its test images
 * @param mlp the MLP's training settings
 * @param calibrationClass the class whose removals choose the MLP's ε*
 * @param reportClass the class whose removals are reported
 * @param mlpSettings Fisher settings of the MLP experiment (the first is the reference; the full
 *     plan has TRUE block-diagonal at B = 256 and 1024 beside TRUE KFAC and EKFAC)
 * @param noiseSeeds SGD seeds the MLP is retrained with per reported removal to measure the
 *     retraining noise floor (the first is the MLP's own seed)
 * @param shards SISA shard counts
 * @param epsilonGrid log10 range and points of the ε grid
 * @param earlyEpochs epochs of the MLP stopped early (issue 20's case: the same MLP, its
 *     reference Fisher, held-out-calibrated ε against three retrainings); 0 = not run
 */
record EvaluationPlan(
    String mode,
    int convexPairs,
    int convexTestPairs,
    double mu,
    int[] calibrationAttributes,
    int[] reportAttributes,
    double[] ratios,
    List<FisherSetting> convexSettings,
    int mlpTrain,
    int mlpTest,
    MlpConfig mlp,
    int calibrationClass,
    int reportClass,
    List<FisherSetting> mlpSettings,
    long[] noiseSeeds,
    int[] shards,
    double[] epsilonGrid,
    int earlyEpochs) implements java.io.Serializable {

  static final int CONVEX_BLOCK = 2048;

  static EvaluationPlan full() {
    return new EvaluationPlan("full", 6000, 2000, 1e-2, new int[] {0, 4},
        new int[] {1, 3, 7}, new double[] {0.10, 0.25, 0.50, 1.00},
        List.of(
            new FisherSetting(CurvatureKind.TRUE, CONVEX_BLOCK, 1),
            new FisherSetting(CurvatureKind.EMPIRICAL, CONVEX_BLOCK, 1),
            new FisherSetting(CurvatureKind.MONTE_CARLO, CONVEX_BLOCK, 1),
            new FisherSetting(CurvatureKind.EMPIRICAL, CONVEX_BLOCK, 10)),
        5000, 5000, new MlpConfig(64, 20, 64, 0.05, 0.9, 5e-4, 1), 0, 3,
        List.of(
            new FisherSetting(CurvatureKind.TRUE, 256, 1),
            new FisherSetting(CurvatureKind.TRUE, 1024, 1),
            FisherSetting.kronecker(CurvatureKind.TRUE, FisherStructure.KFAC, 256),
            FisherSetting.kronecker(CurvatureKind.TRUE, FisherStructure.EKFAC, 256),
            new FisherSetting(CurvatureKind.EMPIRICAL, 256, 1),
            new FisherSetting(CurvatureKind.MONTE_CARLO, 256, 1),
            new FisherSetting(CurvatureKind.EMPIRICAL, 256, 10)),
        new long[] {1, 2, 3}, new int[] {5, 10, 20}, new double[] {-1.5, 1.5, 49}, 2);
  }

  static EvaluationPlan quick() {
    return new EvaluationPlan("quick", 1500, 1000, 1e-2, new int[] {0}, new int[] {1, 3},
        new double[] {0.10, 0.25, 0.50, 1.00},
        List.of(
            new FisherSetting(CurvatureKind.TRUE, CONVEX_BLOCK, 1),
            new FisherSetting(CurvatureKind.EMPIRICAL, CONVEX_BLOCK, 1)),
        1000, 1000, new MlpConfig(32, 4, 64, 0.05, 0.9, 5e-4, 1), 0, 3,
        List.of(new FisherSetting(CurvatureKind.TRUE, 256, 1)),
        new long[] {1, 2, 3}, new int[] {5}, new double[] {-1.5, 1.5, 49}, 1);
  }

  /** The same plan with the MLP trained for {@code epochs} epochs. */
  EvaluationPlan withMlpEpochs(int epochs) {
    return new EvaluationPlan(mode, convexPairs, convexTestPairs, mu, calibrationAttributes,
        reportAttributes, ratios, convexSettings, mlpTrain, mlpTest, mlp.withEpochs(epochs),
        calibrationClass, reportClass, mlpSettings, noiseSeeds, shards, epsilonGrid,
        earlyEpochs);
  }

  /**
   * The same plan with each family's reference Fisher only (both steps) and the smallest SISA
   * shard count: the held-out calibration and the early-stopped MLP at a third of the full cost.
   */
  EvaluationPlan referenceOnly() {
    return new EvaluationPlan(mode + ", reference Fishers only", convexPairs, convexTestPairs, mu,
        calibrationAttributes, reportAttributes, ratios, List.of(convexSettings.get(0)), mlpTrain,
        mlpTest, mlp, calibrationClass, reportClass, List.of(mlpSettings.get(0)), noiseSeeds,
        new int[] {shards[0]}, epsilonGrid, earlyEpochs);
  }

  double[] grid() {
    return Quality.logGrid(epsilonGrid[0], epsilonGrid[1], (int) epsilonGrid[2]);
  }
}
