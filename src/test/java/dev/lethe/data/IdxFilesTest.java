package dev.lethe.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IdxFilesTest {
  private static final int UBYTE = 0x08;
  private static final long SEED = 20240611L;

  @TempDir Path dir;

  @Test
  void readsFashionMnistTrain() throws IOException {
    Path images = SharedData.file("fashion-mnist/train-images-idx3-ubyte.gz");
    Path labels = SharedData.file("fashion-mnist/train-labels-idx1-ubyte.gz");
    Dataset train = IdxFiles.read(images, labels);
    assertEquals(60000, train.size());
    assertArrayEquals(new int[] {28, 28}, train.sampleShape());
    assertEquals(784, train.featureCount());
    assertEquals(10, train.numClasses());
    int[] sixThousandEach = new int[10];
    Arrays.fill(sixThousandEach, 6000);
    assertArrayEquals(sixThousandEach, train.labelHistogram());
    // the label file starts 09 00 00 03 (ankle boot, T-shirt, T-shirt, dress)
    assertEquals(9, train.label(0));
    assertEquals(3, train.label(3));
    assertEquals("train-images-idx3-ubyte.gz:59999", train.id(59999));
    float max = 0;
    for (int j = 0; j < 784; j++) {
      max = Math.max(max, train.feature(0, j));
    }
    assertEquals(255f, max, "pixels are unsigned bytes, up to 255");
  }

  @Test
  void readsFashionMnistTest() throws IOException {
    Dataset test = IdxFiles.read(SharedData.file("fashion-mnist/t10k-images-idx3-ubyte.gz"),
        SharedData.file("fashion-mnist/t10k-labels-idx1-ubyte.gz"));
    assertEquals(10000, test.size());
    int[] thousandEach = new int[10];
    Arrays.fill(thousandEach, 1000);
    assertArrayEquals(thousandEach, test.labelHistogram());
  }

  @ParameterizedTest(name = "gzipped={0}")
  @ValueSource(booleans = {false, true})
  void roundTripsGeneratedFiles(boolean gzipped) throws IOException {
    Random random = new Random(SEED);
    byte[] pixels = new byte[5 * 3 * 2];
    random.nextBytes(pixels);
    byte[] labels = {0, 4, 2, (byte) 200, 1};
    Path x = TestFiles.write(dir, "x.bin", TestFiles.idx(UBYTE, new int[] {5, 3, 2}, pixels),
        gzipped);
    Path y = TestFiles.write(dir, "y.bin", TestFiles.idx(UBYTE, new int[] {5}, labels), gzipped);

    Dataset data = IdxFiles.read(x, y);

    assertEquals(5, data.size());
    assertArrayEquals(new int[] {3, 2}, data.sampleShape());
    assertEquals(200, data.label(3), "labels are unsigned");
    for (int i = 0; i < 5; i++) {
      for (int j = 0; j < 6; j++) {
        assertEquals(pixels[i * 6 + j] & 0xFF, data.feature(i, j), "pixel " + i + "," + j);
      }
    }
    assertEquals("x.bin:4", data.id(4));
  }

  @ParameterizedTest(name = "gzipped={0}")
  @ValueSource(booleans = {false, true})
  void badMagicNamesTheFile(boolean gzipped) throws IOException {
    byte[] content = TestFiles.idx(UBYTE, new int[] {2}, new byte[] {1, 2});
    content[1] = 0x42;
    Path file = TestFiles.write(dir, "bad-magic", content, gzipped);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> IdxFiles.readUnsignedBytes(file));
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("not an IDX file"), e.getMessage());
  }

  @Test
  void unsupportedElementTypeIsRefused() throws IOException {
    Path file = TestFiles.write(dir, "floats", TestFiles.idx(0x0D, new int[] {1}, new byte[4]),
        false);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> IdxFiles.readUnsignedBytes(file));
    assertTrue(e.getMessage().contains(file + ": IDX element type 0x0d"), e.getMessage());
  }

  @ParameterizedTest(name = "gzipped={0}")
  @ValueSource(booleans = {false, true})
  void truncatedValuesNameTheFile(boolean gzipped) throws IOException {
    byte[] full = TestFiles.idx(UBYTE, new int[] {4, 2, 2}, new byte[16]);
    Path file = TestFiles.write(dir, "short", Arrays.copyOf(full, full.length - 3), gzipped);
    EOFException e = assertThrows(EOFException.class, () -> IdxFiles.readUnsignedBytes(file));
    assertTrue(e.getMessage().startsWith(file + ": truncated: expected 16 bytes"),
        e.getMessage());
  }

  @Test
  void truncatedHeaderNamesTheFile() throws IOException {
    Path file = TestFiles.write(dir, "header", new byte[] {0, 0, UBYTE, 3, 0, 0}, false);
    EOFException e = assertThrows(EOFException.class, () -> IdxFiles.readUnsignedBytes(file));
    assertTrue(e.getMessage().contains(file + ": truncated: expected 12 bytes of dims"),
        e.getMessage());
  }

  @Test
  void cutGzipStreamNamesTheFile() throws IOException {
    byte[] gz = TestFiles.gzip(TestFiles.idx(UBYTE, new int[] {100}, new byte[100]));
    Path file = TestFiles.write(dir, "cut.gz", Arrays.copyOf(gz, gz.length / 2), false);
    IOException e = assertThrows(IOException.class, () -> IdxFiles.readUnsignedBytes(file));
    assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
  }

  @Test
  void trailingBytesAreRefused() throws IOException {
    byte[] full = TestFiles.idx(UBYTE, new int[] {2}, new byte[3]);
    Path file = TestFiles.write(dir, "long", full, false);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> IdxFiles.readUnsignedBytes(file));
    assertTrue(e.getMessage().contains(file + ": trailing bytes"), e.getMessage());
  }

  @Test
  void countMismatchNamesBothFiles() throws IOException {
    Path x = TestFiles.write(dir, "x", TestFiles.idx(UBYTE, new int[] {3, 2, 2}, new byte[12]),
        true);
    Path y = TestFiles.write(dir, "y", TestFiles.idx(UBYTE, new int[] {2}, new byte[2]), true);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> IdxFiles.read(x, y));
    assertEquals("count mismatch: " + x + " holds 3 images but " + y + " holds 2 labels",
        e.getMessage());
  }

  @Test
  void labelsAndImagesSwappedAreRefused() throws IOException {
    Path x = TestFiles.write(dir, "x", TestFiles.idx(UBYTE, new int[] {2, 2, 2}, new byte[8]),
        false);
    Path y = TestFiles.write(dir, "y", TestFiles.idx(UBYTE, new int[] {2}, new byte[2]), false);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> IdxFiles.read(y, x));
    assertTrue(e.getMessage().startsWith(y + ": expected an images file"), e.getMessage());
  }
}
