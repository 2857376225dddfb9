package dev.lethe.experiment;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * The report's PNG figures, drawn with XChart: γ and normalised distance against ε per removal
 * group (the paper's Figure 1), mean γ against ε per Fisher setting, and accuracy gaps to the
 * retrained model per split (its Figure 2). Stateless.
 */
final class Plots {
  private Plots() {}

  /** Report-split removals of a setting, without the single-sample timing removal. */
  static List<TrialResult> reported(ErasureEvaluation.FamilyResults f, FisherSetting s) {
    return f.trials().stream()
        .filter(t -> t.setting().equals(s) && !t.removal().calibration()
            && !t.removal().group().equals(ErasureEvaluation.ONE))
        .toList();
  }

  /**
   * The settings at the reference block size and m of the family (its first setting's), every
   * kind with both steps: what the per-kind figures and tables show.
   */
  static List<FisherSetting> kinds(ErasureEvaluation.FamilyResults f) {
    FisherSetting ref = f.settings().get(0);
    return f.settings().stream().filter(s -> s.blockSize() == ref.blockSize()
        && s.minibatch() == ref.minibatch()).toList();
  }

  /** Mean curve per removal group, groups in first-seen order. */
  static Map<String, double[]> meanCurves(List<TrialResult> trials, boolean gamma) {
    Map<String, List<double[]>> byGroup = new LinkedHashMap<>();
    for (TrialResult t : trials) {
      byGroup.computeIfAbsent(t.removal().group(), g -> new ArrayList<>())
          .add(gamma ? t.gammaCurve() : t.distanceCurve());
    }
    Map<String, double[]> out = new LinkedHashMap<>();
    byGroup.forEach((g, curves) -> out.put(g, mean(curves)));
    return out;
  }

  static double[] mean(List<double[]> curves) {
    double[] m = new double[curves.get(0).length];
    for (double[] c : curves) {
      for (int i = 0; i < m.length; i++) {
        m[i] += c[i] / curves.size();
      }
    }
    return m;
  }

  /** Per Fisher kind and step ({@link #kinds}): γ(ε) and distance(ε) per removal group. */
  static void epsilonFigure(ErasureEvaluation.FamilyResults f, double[] grid, Path file)
      throws IOException {
    List<XYChart> charts = new ArrayList<>();
    List<FisherSetting> kinds = kinds(f);
    for (FisherSetting s : kinds) {
      List<TrialResult> trials = reported(f, s);
      charts.add(xy(f.key() + " " + s.label() + ": γ vs ε", "γ (similarity ratio)", grid,
          meanCurves(trials, true), trials.get(0).epsilon()));
      XYChart distance = xy(f.key() + " " + s.label() + ": distance vs ε",
          "|θ̂ − θ*₋S| / |θ* − θ*₋S|", grid, meanCurves(trials, false), trials.get(0).epsilon());
      // beyond 2 the step overshoots by more than the whole way to the retrained model
      distance.getStyler().setYAxisMin(0.0).setYAxisMax(2.0);
      charts.add(distance);
    }
    BitmapEncoder.saveBitmap(charts, kinds.size(), 2, file.toString(),
        BitmapEncoder.BitmapFormat.PNG);
  }

  /** Mean γ(ε) over the reported removals, one series per Fisher setting. */
  static void settingsFigure(ErasureEvaluation.FamilyResults f, double[] grid, Path file)
      throws IOException {
    Map<String, double[]> series = new LinkedHashMap<>();
    for (FisherSetting s : f.settings()) {
      series.put(s.label(), mean(reported(f, s).stream().map(TrialResult::gammaCurve).toList()));
    }
    XYChart chart = xy(f.key() + ": mean γ vs ε per Fisher setting (report split)", "mean γ",
        grid, series, Double.NaN);
    chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideSW);
    BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
  }

  private static XYChart xy(String title, String yTitle, double[] grid, Map<String, double[]> series,
      double chosen) {
    XYChart chart = new XYChartBuilder().width(640).height(420).title(title).xAxisTitle("ε")
        .yAxisTitle(yTitle).build();
    chart.getStyler().setXAxisLogarithmic(true);
    chart.getStyler().setMarkerSize(4);
    chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
    series.forEach((name, y) -> chart.addSeries(name, grid, y));
    if (Double.isFinite(chosen)) {
      double lo = Double.POSITIVE_INFINITY;
      double hi = Double.NEGATIVE_INFINITY;
      for (double[] y : series.values()) {
        for (double v : y) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
      chart.addSeries("ε*", new double[] {chosen, chosen}, new double[] {lo, hi});
    }
    return chart;
  }

  /**
   * Accuracy gaps to the retrained model, in points, on the forget, retained and test data:
   * θ̂ − θ*₋S per Fisher kind and step (at ε*) and θ* − θ*₋S (not erasing at all), means over the reported
   * removals.
   */
  static void accuracyFigure(ErasureEvaluation.FamilyResults f, Path file) throws IOException {
    CategoryChart chart = new CategoryChartBuilder().width(760).height(440)
        .title(f.key() + ": accuracy minus the retrained model's (points, report split)")
        .xAxisTitle("split").yAxisTitle("accuracy gap (points)").build();
    chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
    List<String> splits = List.of("forget", "retain", "test");
    List<FisherSetting> kinds = kinds(f);
    List<TrialResult> reference = reported(f, kinds.get(0));
    chart.addSeries("original θ* (no erase)", splits, gaps(reference, true));
    for (FisherSetting s : kinds) {
      chart.addSeries("SSSE " + s.label(), splits, gaps(reported(f, s), false));
    }
    BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
  }

  /** Mean gap per split (points): θ̂ − θ*₋S, or θ* − θ*₋S when {@code original}. */
  static List<Double> gaps(List<TrialResult> trials, boolean original) {
    List<Double> out = new ArrayList<>();
    for (int split = 0; split < 3; split++) {
      double s = 0;
      for (TrialResult t : trials) {
        double[] a = original ? t.accuracyStar() : t.accuracy();
        s += 100 * (a[split] - t.accuracyRetrained()[split]);
      }
      out.add(s / trials.size());
    }
    return out;
  }
}
