package dev.lethe.fisher;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

class BlockLayoutTest {
  static int[] sizes(BlockLayout l) {
    int[] s = new int[l.blockCount()];
    for (int b = 0; b < s.length; b++) {
      s[b] = l.size(b);
    }
    return s;
  }

  @Test
  void uniformSplitIsContiguousWithAShortLastBlock() {
    BlockLayout l = BlockLayout.uniform(2500, 1024);
    assertArrayEquals(new int[] {1024, 1024, 452}, sizes(l));
    assertEquals(0, l.start(0));
    assertEquals(2048, l.start(2));
    assertEquals(2500, l.end(2));
    assertEquals(1024, l.largestBlock());
  }

  @Test
  void smallTensorsShareAndAreNeverCutWhenTheyFit() {
    // bias 10 + 100 + 20 share; 300 does not fit the 130 open room → new block; 50 joins it.
    BlockLayout l =
        BlockLayout.forParameters(
            List.of(new long[] {10}, new long[] {10, 10}, new long[] {20}, new long[] {3, 100}, new long[] {50}), 400);
    assertArrayEquals(new int[] {130, 350}, sizes(l));
  }

  @Test
  void largeMatricesAreCutIntoWholeRowsAndTheLastPieceStaysOpen() {
    // [10, 300] with B = 1000: 3 rows (900) per piece → 900, 900, 900, 300; the bias of 10 joins
    // the last piece; a [5000] vector is cut into pieces of B.
    BlockLayout l =
        BlockLayout.forParameters(List.of(new long[] {10, 300}, new long[] {10}, new long[] {2500}), 1000);
    assertArrayEquals(new int[] {900, 900, 900, 310, 1000, 1000, 500}, sizes(l));
    assertEquals(5510, l.parameterCount());
    // rows longer than B: plain pieces of B
    BlockLayout wide = BlockLayout.forParameters(List.of(new long[] {2, 1500}), 1000);
    assertArrayEquals(new int[] {1000, 1000, 1000}, sizes(wide));
    // rank 4 (conv): a "row" is one output channel's [in, kh, kw]
    BlockLayout conv = BlockLayout.forParameters(List.of(new long[] {8, 3, 5, 5}), 200);
    assertArrayEquals(new int[] {150, 150, 150, 150}, sizes(conv));
  }

  @Test
  void encodesAndDecodesAndRejectsCorruptForms() {
    BlockLayout l = BlockLayout.forParameters(List.of(new long[] {10, 300}, new long[] {7}), 1000);
    BlockLayout back = BlockLayout.decode(ByteBuffer.wrap(l.encode()));
    assertEquals(l, back);
    assertArrayEquals(sizes(l), sizes(back));
    byte[] bad = l.encode();
    bad[bad.length - 4] = (byte) 0x80; // P negative: before its predecessor
    assertThrows(IllegalArgumentException.class, () -> BlockLayout.decode(ByteBuffer.wrap(bad)));
    assertThrows(IllegalArgumentException.class, () -> BlockLayout.uniform(10, 0));
    assertThrows(IllegalArgumentException.class, () -> BlockLayout.uniform(Integer.MAX_VALUE, 1024));
  }
}
