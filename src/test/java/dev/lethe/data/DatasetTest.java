package dev.lethe.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lethe.core.Samples;
import dev.lethe.core.DenseTensor;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.Test;

class DatasetTest {
  /** 5 samples of 2x3 unsigned bytes; sample i holds 40i + j, so sample 5 would overflow a byte. */
  private static Dataset bytes() {
    byte[] x = new byte[5 * 6];
    for (int i = 0; i < 5; i++) {
      for (int j = 0; j < 6; j++) {
        x[i * 6 + j] = (byte) (40 * i + j);
      }
    }
    return Dataset.ofUnsignedBytes("img", x, new int[] {2, 3}, new int[] {1, 0, 3, 1, 2});
  }

  @Test
  void batchHasShapeScaleLabelsAndIds() {
    Samples b = bytes().batch(3, 5, BatchFormat.of("x").withShape(1, 2, 3).withScale(0.5f));
    assertEquals(List.of("img:3", "img:4"), b.ids());
    DenseTensor x = b.inputs().get("x");
    assertArrayEquals(new long[] {2, 1, 2, 3}, x.dims());
    assertEquals(60f, x.floats()[0], "120 (unsigned) times 0.5");
    assertEquals(82.5f, x.floats()[11], "165 times 0.5");
    assertArrayEquals(new long[] {2}, b.labels().dims());
    assertArrayEquals(new long[] {1, 2}, b.labels().longs());
    assertEquals(2, b.size());
  }

  @Test
  void flatShapeIsTheDefault() {
    Samples b = bytes().batch(0, 1, BatchFormat.of("x"));
    assertArrayEquals(new long[] {1, 6}, b.inputs().get("x").dims());
  }

  @Test
  void oneHotLabels() {
    Dataset data = bytes();
    DenseTensor y = data.batch(0, 3, BatchFormat.of("x").withOneHot(0)).labels();
    assertArrayEquals(new long[] {3, 4}, y.dims());
    assertArrayEquals(new float[] {0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1}, y.floats());
    DenseTensor wide = data.batch(0, 1, BatchFormat.of("x").withOneHot(6)).labels();
    assertArrayEquals(new long[] {1, 6}, wide.dims());
    assertThrows(IllegalArgumentException.class,
        () -> data.batch(2, 3, BatchFormat.of("x").withOneHot(3)), "label 3 needs 4 classes");
  }

  @Test
  void noLabels() {
    assertNull(bytes().batch(0, 2, BatchFormat.of("x").withoutLabels()).labels());
  }

  @Test
  void shapeThatDoesNotHoldTheFeaturesIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> bytes().batch(0, 1, BatchFormat.of("x").withShape(28, 28)));
    assertEquals("sample shape [28, 28] holds 784 values but samples of img have 6",
        e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> bytes().batches(2, BatchFormat.of("x").withShape(5)), "checked before iterating");
  }

  @Test
  void rowsOutOfRangeAreRefused() {
    Dataset data = bytes();
    assertThrows(IndexOutOfBoundsException.class, () -> data.batch(4, 6, BatchFormat.of("x")));
    assertThrows(IndexOutOfBoundsException.class, () -> data.batch(3, 2, BatchFormat.of("x")));
    assertThrows(IndexOutOfBoundsException.class, () -> data.label(5));
  }

  @Test
  void batchesCoverEveryRowOnce() {
    Iterator<Samples> it = bytes().batches(2, BatchFormat.of("x"));
    List<String> ids = new ArrayList<>();
    List<Integer> sizes = new ArrayList<>();
    while (it.hasNext()) {
      Samples b = it.next();
      ids.addAll(b.ids());
      sizes.add(b.size());
    }
    assertEquals(List.of(2, 2, 1), sizes);
    assertEquals(List.of("img:0", "img:1", "img:2", "img:3", "img:4"), ids);
    assertFalse(it.hasNext());
    assertThrows(NoSuchElementException.class, it::next);
  }

  @Test
  void floatsAndRelabelledIds() {
    Dataset data = Dataset.ofFloats("f", new float[] {1.5f, -2f, 3f, 4f}, new int[] {2},
        new int[] {0, 2}).withIdPrefix("demo");
    assertEquals("demo:1", data.id(1));
    assertEquals(3, data.numClasses());
    assertArrayEquals(new float[] {3f, 4f},
        data.batch(1, 2, BatchFormat.of("x")).inputs().get("x").floats());
  }

  @Test
  void inconsistentArraysAreRefused() {
    assertThrows(IllegalArgumentException.class,
        () -> Dataset.ofFloats("f", new float[5], new int[] {2}, new int[] {0, 1}));
    assertThrows(IllegalArgumentException.class,
        () -> Dataset.ofFloats("f", new float[2], new int[] {1}, new int[] {0, -1}));
  }
}
