package dev.lethe.onnx;

import dev.lethe.core.LetheException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Splits an ONNX file into a skeleton (the file with the erasable parameters' float payloads cut
 * out) and the parameters' bytes, and splices any version's weights back in.
 *
 * <p>It works on the protobuf wire format, not on a re-serialised model: the payload of a FLOAT
 * initializer ({@code raw_data}, or packed {@code float_data}) is a run of little-endian float32
 * whose length does not depend on the values, so a version's file is the skeleton with that
 * version's bytes inserted at fixed offsets. The first version's file is therefore the upload,
 * bit for bit, and later versions differ from it only inside the payloads.
 *
 * <p>Stateless; thread-safe.
 */
public final class WeightSplicer {
  // ModelProto.graph = 7; GraphProto.initializer = 5; TensorProto: dims 1, data_type 2,
  // float_data 4, name 8, raw_data 9, data_location 14.
  private static final int MODEL_GRAPH = 7;
  private static final int GRAPH_INITIALIZER = 5;
  private static final int TENSOR_FLOAT_DATA = 4;
  private static final int TENSOR_NAME = 8;
  private static final int TENSOR_RAW_DATA = 9;
  private static final int TENSOR_DATA_LOCATION = 14;

  private WeightSplicer() {}

  /**
   * A split file.
   *
   * @param skeleton the file without the payloads
   * @param spliceOffsets offsets in the skeleton where payloads go, increasing
   * @param spliceParameters for each splice, the index of its parameter in spec order
   * @param weights the parameters' payloads concatenated in spec order (float32 little-endian)
   * @param parameterOffsets byte offset of each parameter in {@code weights}, plus the total
   */
  public record Split(
      byte[] skeleton,
      long[] spliceOffsets,
      int[] spliceParameters,
      byte[] weights,
      long[] parameterOffsets) {}

  /**
   * Splits {@code file}. {@code parameters} are initializer names in spec order and
   * {@code elementCounts} their element counts.
   *
   * @throws LetheException INVALID_ARGUMENT (field spec.erasable_parameters) when a parameter is
   *     not found as a top-level initializer with an inline float32 payload of the right length
   */
  public static Split split(byte[] file, List<String> parameters, long[] elementCounts) {
    Map<String, Integer> index = new HashMap<>();
    for (int i = 0; i < parameters.size(); i++) {
      index.put(parameters.get(i), i);
    }
    List<long[]> found = new ArrayList<>(); // {fileOffset, length, parameter}
    Wire model = new Wire(file, 0, file.length);
    while (model.hasMore()) {
      int tag = model.readTag();
      if (tag >>> 3 == MODEL_GRAPH && (tag & 7) == 2) {
        int len = model.readLength();
        scanGraph(new Wire(file, model.pos, model.pos + len), index, found);
        model.pos += len;
      } else {
        model.skip(tag);
      }
    }
    long[] offsets = locate(found, parameters, elementCounts);
    byte[] weights = new byte[(int) offsets[parameters.size()]];
    byte[] skeleton = new byte[file.length - weights.length];
    long[] spliceOffsets = new long[found.size()];
    int[] spliceParameters = new int[found.size()];
    int src = 0;
    int dst = 0;
    for (int s = 0; s < found.size(); s++) {
      long[] f = found.get(s);
      int start = (int) f[0];
      int len = (int) f[1];
      int p = (int) f[2];
      System.arraycopy(file, src, skeleton, dst, start - src);
      dst += start - src;
      spliceOffsets[s] = dst;
      spliceParameters[s] = p;
      System.arraycopy(file, start, weights, (int) offsets[p], len);
      src = start + len;
    }
    System.arraycopy(file, src, skeleton, dst, file.length - src);
    return new Split(skeleton, spliceOffsets, spliceParameters, weights, offsets);
  }

  /**
   * Checks the payloads found for the parameters and sorts them by file offset ({@code found}:
   * {fileOffset, length, parameter}, modified); returns each parameter's byte offset in the
   * weights, plus the total.
   *
   * @throws LetheException INVALID_ARGUMENT (field spec.erasable_parameters) as {@link #split}
   */
  static long[] locate(List<long[]> found, List<String> parameters, long[] elementCounts) {
    long[] offsets = new long[parameters.size() + 1];
    boolean[] seen = new boolean[parameters.size()];
    for (long[] f : found) {
      int p = (int) f[2];
      if (seen[p]) {
        throw LetheException.invalid("spec.erasable_parameters",
            "initializer '" + parameters.get(p) + "' appears more than once in the graph");
      }
      seen[p] = true;
      if (f[1] != elementCounts[p] * Float.BYTES) {
        throw LetheException.invalid("spec.erasable_parameters",
            "initializer '" + parameters.get(p) + "' has " + f[1] + " payload bytes, expected "
                + elementCounts[p] * Float.BYTES + " (float32, inline raw_data or packed float_data)");
      }
    }
    for (int p = 0; p < parameters.size(); p++) {
      if (!seen[p]) {
        throw LetheException.invalid("spec.erasable_parameters",
            "initializer '" + parameters.get(p) + "' has no inline float32 payload");
      }
      offsets[p + 1] = offsets[p] + elementCounts[p] * Float.BYTES;
    }
    found.sort((a, b) -> Long.compare(a[0], b[0]));
    if (offsets[parameters.size()] > Integer.MAX_VALUE - 16) {
      throw LetheException.tooLarge("spec.erasable_parameters", "erasable weights exceed 2 GiB");
    }
    return offsets;
  }

  /**
   * The file of a version, streamed: the skeleton (read from {@code skeleton}, which the returned
   * stream owns and closes) with each parameter's bytes from {@code weights} (read with absolute gets, not modified; spec order, offsets
   * in {@code parameterOffsets}) inserted at its splice offset.
   */
  public static InputStream compose(
      InputStream skeleton,
      long[] spliceOffsets,
      int[] spliceParameters,
      ByteBuffer weights,
      long[] parameterOffsets) {
    return new SplicedInputStream(skeleton, spliceOffsets, spliceParameters, weights, parameterOffsets);
  }

  private static void scanGraph(Wire graph, Map<String, Integer> index, List<long[]> found) {
    while (graph.hasMore()) {
      int tag = graph.readTag();
      if (tag >>> 3 == GRAPH_INITIALIZER && (tag & 7) == 2) {
        int len = graph.readLength();
        scanTensor(new Wire(graph.bytes, graph.pos, graph.pos + len), index, found);
        graph.pos += len;
      } else {
        graph.skip(tag);
      }
    }
  }

  private static void scanTensor(Wire tensor, Map<String, Integer> index, List<long[]> found) {
    String name = null;
    long payloadOffset = -1;
    long payloadLength = 0;
    boolean external = false;
    while (tensor.hasMore()) {
      int tag = tensor.readTag();
      int field = tag >>> 3;
      if (field == TENSOR_NAME && (tag & 7) == 2) {
        int len = tensor.readLength();
        name = new String(tensor.bytes, tensor.pos, len, java.nio.charset.StandardCharsets.UTF_8);
        tensor.pos += len;
      } else if ((field == TENSOR_RAW_DATA || field == TENSOR_FLOAT_DATA) && (tag & 7) == 2) {
        int len = tensor.readLength();
        if (len > 0) {
          payloadOffset = tensor.pos;
          payloadLength = len;
        }
        tensor.pos += len;
      } else if (field == TENSOR_DATA_LOCATION && (tag & 7) == 0) {
        external = tensor.readVarint() == 1;
      } else {
        tensor.skip(tag);
      }
    }
    Integer p = name == null ? null : index.get(name);
    if (p == null) {
      return;
    }
    if (external) {
      throw LetheException.invalid("spec.erasable_parameters",
          "initializer '" + name + "' uses external data; upload a self-contained ONNX file");
    }
    if (payloadOffset >= 0) {
      found.add(new long[] {payloadOffset, payloadLength, p});
    }
  }

  /** A cursor over protobuf wire format within [pos, end). */
  private static final class Wire {
    final byte[] bytes;
    int pos;
    final int end;

    Wire(byte[] bytes, int pos, int end) {
      if (end > bytes.length || pos > end) {
        throw malformed();
      }
      this.bytes = bytes;
      this.pos = pos;
      this.end = end;
    }

    boolean hasMore() {
      return pos < end;
    }

    int readTag() {
      return (int) readVarint();
    }

    long readVarint() {
      long result = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        if (pos >= end) {
          throw malformed();
        }
        byte b = bytes[pos++];
        result |= (long) (b & 0x7F) << shift;
        if (b >= 0) {
          return result;
        }
      }
      throw malformed();
    }

    int readLength() {
      long len = readVarint();
      if (len < 0 || len > end - pos) {
        throw malformed();
      }
      return (int) len;
    }

    void skip(int tag) {
      switch (tag & 7) {
        case 0 -> readVarint();
        case 1 -> advance(8);
        case 2 -> advance(readLength());
        case 5 -> advance(4);
        default -> throw malformed();
      }
    }

    private void advance(int n) {
      if (n > end - pos) {
        throw malformed();
      }
      pos += n;
    }

    private static LetheException malformed() {
      return LetheException.invalid("chunk", "not a valid ONNX file (malformed protobuf)");
    }
  }
}
