package dev.lethe.data;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** The shared data folder ({@code ../shared/data} from the project root), or a skipped test. */
final class SharedData {
  private static final Path ROOT = Path.of("..", "shared", "data");

  private SharedData() {}

  /** {@code ../shared/data/<relative>}; skips the calling test when the file is absent. */
  static Path file(String relative) {
    Path file = ROOT.resolve(relative);
    assumeTrue(Files.isRegularFile(file), "skipped: shared data file " + file.toAbsolutePath()
        + " not present (tests read real data from ../shared/data when it exists)");
    return file;
  }
}
