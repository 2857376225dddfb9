package dev.lethe.fisher;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The split of the flattened erasable parameters (P entries, spec order) into contiguous blocks
 * of at most {@code maxBlock} entries: the blocks of the block-diagonal Fisher.
 *
 * <p>{@link #forParameters} fills blocks greedily in spec order, so the split depends only on the
 * parameter shapes and B (stable across builds and restarts):
 *
 * <ul>
 *   <li>a parameter that fits in the room left in the open block joins it (biases and small
 *       tensors share a block);
 *   <li>one that does not fit there but has at most B entries starts a new block, so a whole
 *       tensor is never cut when it could be kept whole;
 *   <li>a larger one starts a new block and is cut into pieces: for a tensor of rank ≥ 2 whose
 *       row (all dimensions after the first) has at most B entries, pieces of ⌊B/row⌋ whole rows;
 *       otherwise pieces of B entries. Its last piece stays open for what follows.
 * </ul>
 *
 * <p>Serialised with {@link #encode()} (stored in the Fisher header). Immutable, thread-safe.
 */
public final class BlockLayout {
  private static final byte FORMAT = 1;

  private final int maxBlock;
  /** starts[b] is the first entry of block b; starts[blockCount] = P. */
  private final int[] starts;

  private BlockLayout(int maxBlock, int[] starts) {
    this.maxBlock = maxBlock;
    this.starts = starts;
  }

  /** P entries in blocks of exactly {@code maxBlock} (the last one shorter). */
  public static BlockLayout uniform(int parameterCount, int maxBlock) {
    return forParameters(List.of(new long[] {parameterCount}), maxBlock);
  }

  /**
   * The layout for parameters of the given shapes, in spec order (see the class comment).
   *
   * @throws IllegalArgumentException if maxBlock < 1, a dimension is negative, or P exceeds
   *     {@code Integer.MAX_VALUE - 8} (the largest float array)
   */
  public static BlockLayout forParameters(List<long[]> shapes, int maxBlock) {
    if (maxBlock < 1) {
      throw new IllegalArgumentException("block size must be >= 1, got " + maxBlock);
    }
    List<Integer> starts = new ArrayList<>();
    long pos = 0;
    long open = 0; // entries in the open block (0: none open)
    for (long[] dims : shapes) {
      long size = 1;
      for (long d : dims) {
        if (d < 0) {
          throw new IllegalArgumentException("negative dimension in " + Arrays.toString(dims));
        }
        size *= d;
      }
      if (size == 0) {
        continue;
      }
      if (pos + size > Integer.MAX_VALUE - 8) {
        throw new IllegalArgumentException("more than " + (Integer.MAX_VALUE - 8) + " parameters");
      }
      if (open > 0 && open + size <= maxBlock) {
        open += size;
      } else if (size <= maxBlock) {
        starts.add((int) pos);
        open = size;
      } else {
        long piece = maxBlock;
        if (dims.length >= 2 && dims[0] > 0 && size / dims[0] <= maxBlock) {
          long row = size / dims[0];
          piece = (maxBlock / row) * row;
        }
        for (long off = 0; off < size; off += piece) {
          starts.add((int) (pos + off));
          open = Math.min(piece, size - off);
        }
      }
      pos += size;
    }
    int[] s = new int[starts.size() + 1];
    for (int i = 0; i < starts.size(); i++) {
      s[i] = starts.get(i);
    }
    s[starts.size()] = (int) pos;
    return new BlockLayout(maxBlock, s);
  }

  /** P: the number of flattened entries. */
  public int parameterCount() {
    return starts[starts.length - 1];
  }

  public int blockCount() {
    return starts.length - 1;
  }

  /** B: the largest block size allowed (blocks may be smaller). */
  public int maxBlock() {
    return maxBlock;
  }

  /** The first flattened entry of block {@code b}. */
  public int start(int b) {
    return starts[b];
  }

  /** The number of entries of block {@code b}. */
  public int size(int b) {
    return starts[b + 1] - starts[b];
  }

  /** The end (exclusive) of block {@code b}. */
  public int end(int b) {
    return starts[b + 1];
  }

  /** The largest actual block size. */
  public int largestBlock() {
    int m = 0;
    for (int b = 0; b < blockCount(); b++) {
      m = Math.max(m, size(b));
    }
    return m;
  }

  /** format(1) maxBlock(4) count(4) starts(4 each, count+1), big-endian. */
  public byte[] encode() {
    ByteBuffer buf = ByteBuffer.allocate(1 + 4 + 4 + 4 * starts.length);
    buf.put(FORMAT).putInt(maxBlock).putInt(blockCount());
    for (int s : starts) {
      buf.putInt(s);
    }
    return buf.array();
  }

  /** Reads {@link #encode()}'s form; validates it (monotone, blocks within maxBlock). */
  public static BlockLayout decode(ByteBuffer buf) {
    if (buf.get() != FORMAT) {
      throw new IllegalArgumentException("unknown block layout format");
    }
    int maxBlock = buf.getInt();
    int count = buf.getInt();
    if (maxBlock < 1 || count < 0 || count > buf.remaining() / 4 - 1) {
      throw new IllegalArgumentException("corrupt block layout");
    }
    int[] s = new int[count + 1];
    for (int i = 0; i <= count; i++) {
      s[i] = buf.getInt();
      if (i == 0 ? s[0] != 0 : s[i] <= s[i - 1] || s[i] - s[i - 1] > maxBlock) {
        throw new IllegalArgumentException("corrupt block layout at block " + i);
      }
    }
    return new BlockLayout(maxBlock, s);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof BlockLayout l && l.maxBlock == maxBlock && Arrays.equals(l.starts, starts);
  }

  @Override
  public int hashCode() {
    return maxBlock * 31 + Arrays.hashCode(starts);
  }

  @Override
  public String toString() {
    return "BlockLayout[P=" + parameterCount() + ", B=" + maxBlock + ", blocks=" + blockCount() + "]";
  }
}
