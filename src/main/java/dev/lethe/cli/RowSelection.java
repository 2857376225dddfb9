package dev.lethe.cli;

import java.util.ArrayList;
import java.util.List;

/** Parses row selections: {@code 0-9,12} (0-based, inclusive ranges) against a row count. */
final class RowSelection {
  private RowSelection() {}

  /**
   * The rows named by {@code specs} (each "a" or "a-b"), in order.
   *
   * @throws IllegalArgumentException naming {@code option} for a malformed entry or a row
   *     outside [0, rows)
   */
  static List<Integer> parse(String option, List<String> specs, int rows, String file) {
    List<Integer> out = new ArrayList<>();
    for (String spec : specs) {
      String[] range = spec.trim().split("-", -1);
      int from;
      int to;
      try {
        from = Integer.parseInt(range[0].trim());
        to = range.length == 2 ? Integer.parseInt(range[1].trim()) : from;
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(option + ": '" + spec + "' is not a row or a range a-b");
      }
      if (range.length > 2 || to < from) {
        throw new IllegalArgumentException(option + ": '" + spec + "' is not a row or a range a-b");
      }
      for (int i = from; i <= to; i++) {
        if (i < 0 || i >= rows) {
          throw new IllegalArgumentException(option + ": row " + i + " is not a row of " + file
              + " (it has " + rows + " rows, numbered from 0)");
        }
        out.add(i);
      }
    }
    return out;
  }
}
