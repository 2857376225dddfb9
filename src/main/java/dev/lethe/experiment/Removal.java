package dev.lethe.experiment;

/**
 * One erasure request of the evaluation: the training rows S to forget.
 *
 * @param calibration true for the calibration split (chooses ε*), false for the report split
 * @param group what is plotted and averaged over (a removal ratio, or "whole class", ...)
 * @param label a unique description ("attribute 3, 25%")
 * @param forget sorted training rows
 */
record Removal(boolean calibration, String group, String label, int[] forget)
    implements java.io.Serializable {
  String split() {
    return calibration ? "calibration" : "report";
  }
}
