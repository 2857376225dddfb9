package dev.lethe.cli;

import dev.lethe.erase.ScaleCalibration;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

/** The CalibrateScale curve as a PNG (XChart): the two mean losses against ε, the choice marked. */
final class CalibrationPlot {
  private CalibrationPlot() {}

  static void write(ScaleCalibration.Result r, Path png) throws IOException {
    List<ScaleCalibration.Point> c = r.curve();
    double[] eps = c.stream().mapToDouble(ScaleCalibration.Point::scale).toArray();
    XYChart chart = new XYChartBuilder().width(720).height(440)
        .title("CalibrateScale (" + r.step() + "): chosen ε = " + String.format("%.3g", r.scale()))
        .xAxisTitle("ε").yAxisTitle("mean loss").build();
    chart.getStyler().setXAxisLogarithmic(true).setLegendPosition(Styler.LegendPosition.InsideNW);
    chart.addSeries("erased samples", eps,
        c.stream().mapToDouble(ScaleCalibration.Point::erasedMeanLoss).toArray());
    chart.addSeries("holdout", eps,
        c.stream().mapToDouble(ScaleCalibration.Point::holdoutMeanLoss).toArray());
    double lo = c.stream().mapToDouble(p -> Math.min(p.erasedMeanLoss(), p.holdoutMeanLoss())).min().orElse(0);
    double hi = c.stream().mapToDouble(p -> Math.max(p.erasedMeanLoss(), p.holdoutMeanLoss())).max().orElse(1);
    chart.addSeries("chosen", new double[] {r.scale(), r.scale()}, new double[] {lo, hi});
    BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
  }
}
