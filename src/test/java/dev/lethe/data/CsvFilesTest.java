package dev.lethe.data;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CsvFilesTest {
  @TempDir Path dir;

  @Test
  void readsUciDigits() throws IOException {
    Dataset digits = CsvFiles.read(SharedData.file("digits/digits.csv.gz"));
    assertEquals(1797, digits.size());
    assertEquals(64, digits.featureCount());
    assertArrayEquals(new int[] {64}, digits.sampleShape());
    assertEquals(0, digits.label(0));
    assertEquals(8, digits.label(1796));
    float[] firstRow = new float[64];
    digits.copyRow(0, 1f, firstRow, 0);
    assertArrayEquals(new float[] {0, 0, 5, 13, 9, 1, 0, 0}, Arrays.copyOf(firstRow, 8));
    assertArrayEquals(new int[] {178, 182, 177, 183, 181, 182, 181, 179, 174, 180},
        digits.labelHistogram());
    assertEquals("digits.csv.gz:0", digits.id(0));
  }

  @ParameterizedTest(name = "gzipped={0}")
  @ValueSource(booleans = {false, true})
  void readsGeneratedFileAndSkipsHeader(boolean gzipped) throws IOException {
    String csv = "a,b,label\n1.5,-2,3\n\n0, 4e1 ,0\n";
    Path file = TestFiles.write(dir, "t.csv", csv.getBytes(UTF_8), gzipped);
    Dataset data = CsvFiles.read(file);
    assertEquals(2, data.size());
    assertEquals(2, data.featureCount());
    assertEquals(1.5f, data.feature(0, 0));
    assertEquals(-2f, data.feature(0, 1));
    assertEquals(40f, data.feature(1, 1));
    assertEquals(3, data.label(0));
    assertEquals(0, data.label(1));
    assertEquals(4, data.numClasses());
  }

  @Test
  void readsLabelWrittenAsFloat() throws IOException {
    Path file = TestFiles.write(dir, "f.csv", "1,2,7.0\n".getBytes(UTF_8), false);
    assertEquals(7, CsvFiles.read(file).label(0));
  }

  @ParameterizedTest(name = "gzipped={0}")
  @ValueSource(booleans = {false, true})
  void wrongColumnCountNamesFileAndLine(boolean gzipped) throws IOException {
    Path file = TestFiles.write(dir, "cols.csv", "1,2,0\n3,4,1\n5,1\n".getBytes(UTF_8), gzipped);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> CsvFiles.read(file));
    assertEquals(file + ":3: expected 3 columns, found 2", e.getMessage());
  }

  @Test
  void nonNumericFieldNamesFileLineAndColumn() throws IOException {
    Path file = TestFiles.write(dir, "nan.csv", "1,2,0\n3,x,1\n".getBytes(UTF_8), false);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> CsvFiles.read(file));
    assertEquals(file + ":2: column 2 is not a number: 'x'", e.getMessage());
  }

  @Test
  void secondNonNumericRowIsNotAHeader() throws IOException {
    Path file = TestFiles.write(dir, "h.csv", "a,b,c\nd,e,f\n".getBytes(UTF_8), false);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> CsvFiles.read(file));
    assertTrue(e.getMessage().startsWith(file + ":2: not numeric"), e.getMessage());
  }

  @Test
  void fractionalOrNegativeLabelIsRefused() throws IOException {
    Path frac = TestFiles.write(dir, "frac.csv", "1,0.5\n".getBytes(UTF_8), false);
    Path neg = TestFiles.write(dir, "neg.csv", "1,2\n1,-1\n".getBytes(UTF_8), false);
    assertEquals(frac + ":1: label (last column) must be a non-negative integer, found 0.5",
        assertThrows(IllegalArgumentException.class, () -> CsvFiles.read(frac)).getMessage());
    assertEquals(neg + ":2: label (last column) must be a non-negative integer, found -1",
        assertThrows(IllegalArgumentException.class, () -> CsvFiles.read(neg)).getMessage());
  }

  @Test
  void infiniteValueIsRefused() throws IOException {
    Path file = TestFiles.write(dir, "inf.csv", "1e39,0\n".getBytes(UTF_8), false);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> CsvFiles.read(file));
    assertTrue(e.getMessage().startsWith(file + ":1: column 1 is not a finite float"),
        e.getMessage());
  }

  @ParameterizedTest(name = "gzipped={0}")
  @ValueSource(booleans = {false, true})
  void fileWithoutDataIsRefused(boolean gzipped) throws IOException {
    Path file = TestFiles.write(dir, "empty.csv", "only,a,header\n".getBytes(UTF_8), gzipped);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> CsvFiles.read(file));
    assertEquals(file + ": no data rows", e.getMessage());
  }

  @Test
  void cutGzipStreamNamesTheFile() throws IOException {
    StringBuilder csv = new StringBuilder();
    for (int i = 0; i < 2000; i++) {
      csv.append(i).append(',').append(i * 7 % 13).append(',').append(i % 3).append('\n');
    }
    byte[] gz = TestFiles.gzip(csv.toString().getBytes(UTF_8));
    Path file = TestFiles.write(dir, "cut.csv.gz", Arrays.copyOf(gz, gz.length / 2), false);
    IOException e = assertThrows(IOException.class, () -> CsvFiles.read(file));
    assertTrue(e.getMessage().startsWith(file + ": truncated gzip data"), e.getMessage());
  }
}
