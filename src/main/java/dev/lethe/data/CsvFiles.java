package dev.lethe.data;

import java.io.BufferedReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reader for numeric CSV, gzipped or plain (detected from the content): one sample a row, D
 * feature columns then the class label (a non-negative integer) in the last column, comma
 * separated; the UCI digits layout (64 pixels 0..16, then the label 0..9). A first row that is not
 * numeric is a header and is skipped; blank lines are skipped. Every data row must have the
 * column count of the first.
 *
 * <p>Errors name the file and the 1-based line: malformed content is an
 * {@link IllegalArgumentException}, a cut-off gzip stream an {@link EOFException}. Stateless;
 * thread-safe.
 */
public final class CsvFiles {
  private static final int INITIAL_CAPACITY = 1 << 16;

  private CsvFiles() {}

  /** Reads {@code file}; ids are {@code <file name>:<row>} (rows count data rows from 0). */
  public static Dataset read(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return read(in, file.toString(), DataInputs.sourceName(file));
    }
  }

  /**
   * Reads a CSV stream (gzipped or plain) to its end; {@code source} names it in messages,
   * {@code idPrefix} prefixes the sample ids. Does not close {@code in}.
   */
  public static Dataset read(InputStream in, String source, String idPrefix) throws IOException {
    return read(in, source, idPrefix, -1, null);
  }

  /** A CSV file's samples and the ids read from one of its columns. */
  public record WithIds(Dataset data, List<String> ids) {}

  /**
   * Reads {@code file} whose column {@code idColumn} (0-based; not the last, the label) holds
   * each row's sample id, as text; the other columns are the features, then the label. A header
   * row is recognised by its non-numeric feature or label columns.
   *
   * @throws IllegalArgumentException also for an id column outside the rows or an empty id
   */
  public static WithIds read(Path file, int idColumn) throws IOException {
    if (idColumn < 0) {
      throw new IllegalArgumentException("--id-column must be >= 0 (0-based), got " + idColumn);
    }
    List<String> ids = new ArrayList<>();
    try (InputStream in = Files.newInputStream(file)) {
      Dataset d = read(in, file.toString(), DataInputs.sourceName(file), idColumn, ids);
      return new WithIds(d, List.copyOf(ids));
    }
  }

  private static Dataset read(InputStream in, String source, String idPrefix, int idColumn,
      List<String> ids) throws IOException {
    BufferedReader reader = new BufferedReader(
        new InputStreamReader(DataInputs.decompressed(in), StandardCharsets.UTF_8));
    float[] features = new float[INITIAL_CAPACITY];
    int[] labels = new int[INITIAL_CAPACITY / 64];
    int rows = 0;
    int columns = -1;
    int lineNumber = 0;
    double[] values = null;
    String line;
    while ((line = readLine(reader, source)) != null) {
      lineNumber++;
      if (line.isBlank()) {
        continue;
      }
      String[] fields = line.split(",", -1);
      if (idColumn >= 0) {
        if (idColumn >= fields.length - 1) {
          throw new IllegalArgumentException(source + ":" + lineNumber + ": --id-column "
              + idColumn + " is not a column before the label (the row has " + fields.length
              + " columns, 0-based, the last is the label)");
        }
        String id = fields[idColumn].trim();
        String[] rest = new String[fields.length - 1];
        System.arraycopy(fields, 0, rest, 0, idColumn);
        System.arraycopy(fields, idColumn + 1, rest, idColumn, fields.length - idColumn - 1);
        fields = rest;
        if (columns < 0 && !isNumeric(fields)) {
          if (lineNumber > 1) {
            throw new IllegalArgumentException(source + ":" + lineNumber + ": not numeric: "
                + abbreviate(line));
          }
          continue; // a header
        }
        if (id.isEmpty()) {
          throw new IllegalArgumentException(source + ":" + lineNumber + ": empty id in column "
              + idColumn);
        }
        ids.add(id);
      }
      if (columns < 0) {
        if (!isNumeric(fields)) {
          if (lineNumber > 1) {
            throw new IllegalArgumentException(source + ":" + lineNumber + ": not numeric: "
                + abbreviate(line));
          }
          continue; // a header
        }
        columns = fields.length;
        if (columns < 2) {
          throw new IllegalArgumentException(source + ":" + lineNumber
              + ": need at least one feature column and the label column, found " + columns);
        }
        values = new double[columns];
      }
      if (fields.length != columns) {
        throw new IllegalArgumentException(source + ":" + lineNumber + ": expected " + columns
            + " columns, found " + fields.length);
      }
      for (int c = 0; c < columns; c++) {
        values[c] = parse(fields[c], source, lineNumber, c);
      }
      int d = columns - 1;
      double label = values[d];
      if (label < 0 || label != Math.rint(label) || label > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(source + ":" + lineNumber
            + ": label (last column) must be a non-negative integer, found " + fields[d].trim());
      }
      if ((long) (rows + 1) * d > features.length) {
        features = Arrays.copyOf(features, grow(features.length, (long) (rows + 1) * d, source));
      }
      if (rows == labels.length) {
        labels = Arrays.copyOf(labels, grow(labels.length, rows + 1L, source));
      }
      for (int c = 0; c < d; c++) {
        features[rows * d + c] = (float) values[c];
      }
      labels[rows++] = (int) label;
    }
    if (columns < 0) {
      throw new IllegalArgumentException(source + ": no data rows");
    }
    int d = columns - 1;
    return Dataset.ofFloats(idPrefix, Arrays.copyOf(features, rows * d), new int[] {d},
        Arrays.copyOf(labels, rows));
  }

  private static String readLine(BufferedReader reader, String source) throws IOException {
    try {
      return reader.readLine();
    } catch (EOFException e) {
      throw DataInputs.truncatedGzip(source, e);
    }
  }

  private static boolean isNumeric(String[] fields) {
    for (String f : fields) {
      try {
        Double.parseDouble(f.trim());
      } catch (NumberFormatException e) {
        return false;
      }
    }
    return true;
  }

  private static double parse(String field, String source, int line, int column) {
    double v;
    try {
      v = Double.parseDouble(field.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(source + ":" + line + ": column " + (column + 1)
          + " is not a number: '" + abbreviate(field) + "'");
    }
    if (!Double.isFinite(v) || Math.abs(v) > Float.MAX_VALUE) {
      throw new IllegalArgumentException(source + ":" + line + ": column " + (column + 1)
          + " is not a finite float: '" + abbreviate(field) + "'");
    }
    return v;
  }

  private static int grow(int current, long needed, String source) {
    long next = Math.max(needed, 2L * current);
    if (needed > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(source + ": too large for one array");
    }
    return (int) Math.min(next, Integer.MAX_VALUE - 8);
  }

  private static String abbreviate(String s) {
    return s.length() <= 40 ? s : s.substring(0, 40) + "...";
  }
}
