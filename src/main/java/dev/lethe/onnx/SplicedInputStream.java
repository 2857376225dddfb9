package dev.lethe.onnx;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;

/**
 * A skeleton stream with weight segments inserted at fixed offsets (see {@link WeightSplicer}).
 * Owns and closes the skeleton stream; not thread-safe.
 */
final class SplicedInputStream extends InputStream {
  private final InputStream skeleton;
  private final long[] spliceOffsets;
  private final int[] spliceParameters;
  private final ByteBuffer weights;
  private final long[] parameterOffsets;
  private long skeletonPosition;
  private int nextSplice;
  private int segmentPos = -1; // position in weights while inside a segment, else -1
  private int segmentEnd;

  SplicedInputStream(InputStream skeleton, long[] spliceOffsets, int[] spliceParameters,
      ByteBuffer weights, long[] parameterOffsets) {
    this.skeleton = skeleton;
    this.spliceOffsets = spliceOffsets;
    this.spliceParameters = spliceParameters;
    this.weights = weights;
    this.parameterOffsets = parameterOffsets;
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (len == 0) {
      return 0;
    }
    if (segmentPos < 0 && nextSplice < spliceOffsets.length
        && skeletonPosition == spliceOffsets[nextSplice]) {
      int p = spliceParameters[nextSplice++];
      segmentPos = (int) parameterOffsets[p];
      segmentEnd = (int) parameterOffsets[p + 1];
    }
    if (segmentPos >= 0) {
      int n = Math.min(len, segmentEnd - segmentPos);
      weights.get(segmentPos, b, off, n);
      segmentPos += n;
      if (segmentPos == segmentEnd) {
        segmentPos = -1;
      }
      return n;
    }
    long limit = nextSplice < spliceOffsets.length
        ? spliceOffsets[nextSplice] - skeletonPosition : Long.MAX_VALUE;
    int r = skeleton.read(b, off, (int) Math.min(len, limit));
    if (r < 0) {
      if (nextSplice < spliceOffsets.length) {
        throw new IOException("skeleton ended before splice " + nextSplice);
      }
      return -1;
    }
    skeletonPosition += r;
    return r;
  }

  @Override
  public void close() throws IOException {
    skeleton.close();
  }
}
