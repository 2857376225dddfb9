package dev.lethe.data;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataFilesTest {
  private static final int UBYTE = 0x08;

  @TempDir Path dir;

  @Test
  void labelsBesideFollowsMnistNaming() {
    assertEquals(Path.of("d", "train-labels-idx1-ubyte.gz"),
        DataFiles.labelsBeside(Path.of("d", "train-images-idx3-ubyte.gz")));
    assertEquals(Path.of("t10k-labels.idx1-ubyte"),
        DataFiles.labelsBeside(Path.of("t10k-images.idx3-ubyte")));
    assertThrows(IllegalArgumentException.class,
        () -> DataFiles.labelsBeside(Path.of("pixels-idx3-ubyte")));
  }

  @Test
  void loadsImagesWithLabelsBeside() throws IOException {
    TestFiles.write(dir, "train-images-idx3-ubyte.gz",
        TestFiles.idx(UBYTE, new int[] {2, 2, 2}, new byte[8]), true);
    TestFiles.write(dir, "train-labels-idx1-ubyte.gz",
        TestFiles.idx(UBYTE, new int[] {2}, new byte[] {5, 7}), true);
    Dataset data = DataFiles.load(dir.resolve("train-images-idx3-ubyte.gz"));
    assertEquals(2, data.size());
    assertEquals(7, data.label(1));
  }

  @Test
  void loadsImagesAndLabelsGivenExplicitly() throws IOException {
    Path x = TestFiles.write(dir, "a.idx", TestFiles.idx(UBYTE, new int[] {1, 1, 3},
        new byte[] {1, 2, 3}), false);
    Path y = TestFiles.write(dir, "b.idx", TestFiles.idx(UBYTE, new int[] {1}, new byte[] {4}),
        false);
    Dataset data = DataFiles.load(x, y);
    assertEquals(3f, data.feature(0, 2));
    assertEquals(4, data.label(0));
  }

  @Test
  void csvByNameWhateverTheCompression() throws IOException {
    Path gz = TestFiles.write(dir, "plain-named.csv", "1,2,1\n".getBytes(UTF_8), true);
    Path plain = TestFiles.write(dir, "gz-named.csv.gz", "1,2,1\n".getBytes(UTF_8), false);
    assertEquals(1, DataFiles.load(gz).label(0));
    assertEquals(1, DataFiles.load(plain).label(0));
  }

  @Test
  void missingLabelsFileIsNamed() throws IOException {
    Path x = TestFiles.write(dir, "train-images-idx3-ubyte",
        TestFiles.idx(UBYTE, new int[] {1, 1, 1}, new byte[1]), false);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> DataFiles.load(x));
    assertTrue(e.getMessage().contains(dir.resolve("train-labels-idx1-ubyte").toString()),
        e.getMessage());
  }

  @Test
  void unknownFormatIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> DataFiles.load(dir.resolve("data.parquet")));
    assertTrue(e.getMessage().contains("unknown data format"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> DataFiles.load());
  }

  @Test
  void loadsSharedFashionMnistTestSet() throws IOException {
    Dataset test = DataFiles.load(SharedData.file("fashion-mnist/t10k-images-idx3-ubyte.gz"));
    assertEquals(10000, test.size());
    assertEquals(784, test.featureCount());
  }
}
