package dev.lethe.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Loads a {@link Dataset} from the file(s) a user names on the command line, choosing the reader
 * from the names: {@code *.csv} / {@code *.csv.gz} are CSV ({@link CsvFiles}); a name containing
 * {@code idx} or {@code -ubyte} is an IDX images file ({@link IdxFiles}) whose labels file is
 * either the second path or found beside it by the MNIST naming rule ({@link #labelsBeside}).
 * Compression is detected from the content, not the name. Stateless; thread-safe.
 */
public final class DataFiles {
  private DataFiles() {}

  /**
   * One CSV file, one IDX images file (labels found beside it), or an IDX images file and its
   * labels file, in that order.
   *
   * @throws IllegalArgumentException for an unknown kind of file, a wrong number of paths or a
   *     missing labels file
   */
  public static Dataset load(Path... paths) throws IOException {
    if (paths.length < 1 || paths.length > 2) {
      throw new IllegalArgumentException("expected a CSV file, an IDX images file, or IDX images"
          + " and labels files; got " + paths.length + " paths");
    }
    Path first = paths[0];
    if (isCsv(first)) {
      if (paths.length != 1) {
        throw new IllegalArgumentException(first + ": a CSV file holds its labels; pass it alone");
      }
      return CsvFiles.read(first);
    }
    if (!isIdx(first)) {
      throw new IllegalArgumentException(first + ": unknown data format (expected *.csv, *.csv.gz"
          + " or an IDX file such as train-images-idx3-ubyte.gz)");
    }
    Path labels = paths.length == 2 ? paths[1] : labelsBeside(first);
    if (!Files.exists(labels)) {
      throw new IllegalArgumentException(first + ": its labels file " + labels
          + " does not exist (pass the labels file as the second path)");
    }
    return IdxFiles.read(first, labels);
  }

  /**
   * The MNIST-style labels file for an images file: {@code images} → {@code labels} and
   * {@code idx3} → {@code idx1} in the file name ({@code train-images-idx3-ubyte.gz} →
   * {@code train-labels-idx1-ubyte.gz}), in the same directory.
   *
   * @throws IllegalArgumentException if the name does not follow the rule
   */
  public static Path labelsBeside(Path images) {
    String name = DataInputs.sourceName(images);
    if (!name.contains("images")) {
      throw new IllegalArgumentException(images + ": cannot find the labels file: the name has no"
          + " 'images' to replace by 'labels' (pass the labels file as the second path)");
    }
    String labels = name.replace("images", "labels").replace("idx3", "idx1");
    return images.resolveSibling(labels);
  }

  static boolean isCsv(Path file) {
    String name = DataInputs.sourceName(file).toLowerCase(java.util.Locale.ROOT);
    return name.endsWith(".csv") || name.endsWith(".csv.gz");
  }

  static boolean isIdx(Path file) {
    String name = DataInputs.sourceName(file).toLowerCase(java.util.Locale.ROOT);
    return name.contains("idx") || name.contains("-ubyte");
  }
}
