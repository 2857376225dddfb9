package dev.lethe.onnx;

import ai.onnx.proto.OnnxMl;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.lethe.core.LetheException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * A streaming scan of an ONNX file on disk (an upload staged by the store, or a stored model
 * written out for ONNX Runtime): one walk over the protobuf wire format that finds every
 * top-level initializer's payload without reading it, so that the model's structure — the file
 * without its large initializer payloads — can be parsed on the heap while the weights stay in
 * the file.
 *
 * <p>{@link #layout} walks the file and tells the structure's size (what parsing it will hold)
 * before anything is allocated; {@link Layout#scan} then builds and parses the structure, checks
 * it with {@link ModelAudit} and points each cut initializer at its bytes in the file as ONNX
 * external data ({@link ExternalData}), so ONNX Runtime reads them from the file itself.
 *
 * <p>What is cut: a top-level initializer ({@code ModelProto.graph = 7},
 * {@code GraphProto.initializer = 5}) whose payload is at least {@link #CUT_BYTES} bytes of
 * {@code raw_data} (9) or of packed {@code float_data} (4) of a FLOAT tensor — those are the
 * tensor's little-endian values, the layout external data has. INT32/INT64 tensors (shapes,
 * axes, indices, whose values Lethe reads) and everything else (Constant nodes, subgraphs,
 * sparse initializers) stay in the structure; a graph whose structure is large is therefore
 * still bounded by the heap.
 *
 * <p>Stateless; thread-safe.
 */
public final class ModelScan {
  /** Payloads of at least this many bytes are cut out of the structure. */
  public static final int CUT_BYTES = 64 * 1024;
  // ModelProto.graph = 7; GraphProto.initializer = 5; TensorProto: data_type 2, float_data 4,
  // int32_data 5, name 8, raw_data 9, double_data 10, data_location 14 (onnx.proto of
  // org.tribuo:tribuo-util-onnx, ai.onnx.proto.OnnxMl).
  static final int MODEL_GRAPH = 7;
  static final int GRAPH_INITIALIZER = 5;
  static final int TENSOR_DATA_TYPE = 2;
  static final int TENSOR_FLOAT_DATA = 4;
  static final int TENSOR_NAME = 8;
  static final int TENSOR_RAW_DATA = 9;
  static final int TENSOR_DOUBLE_DATA = 10;
  static final int TENSOR_DATA_LOCATION = 14;

  private ModelScan() {}

  /**
   * A top-level initializer's payload in the file: the last non-empty {@code raw_data} or
   * {@code float_data} field (what {@link WeightSplicer#split} splices), whether the tensor says
   * its data is external, and whether the structure leaves the payload out.
   */
  public record Payload(String name, long fieldStart, long offset, long length, boolean external,
      boolean cut) {}

  /** A piece of the structure: a range copied from the file, or a message with new length. */
  sealed interface Piece permits Copy, Nested {
    long size();
  }

  record Copy(long from, long to) implements Piece {
    public long size() {
      return to - from;
    }
  }

  record Nested(int tag, List<Piece> children, long bodySize) implements Piece {
    public long size() {
      return CodedOutputStream.computeUInt32SizeNoTag(tag)
          + CodedOutputStream.computeUInt64SizeNoTag(bodySize) + bodySize;
    }
  }

  /**
   * What one walk found; holds no payload. Closing is not needed.
   *
   * @param initializers every top-level initializer in file order
   */
  public record Layout(Path file, long size, long structureBytes, List<Payload> initializers,
      List<Piece> pieces) {

    /** Bytes the cut payloads leave in the file. */
    public long cutBytes() {
      return initializers.stream().filter(Payload::cut).mapToLong(Payload::length).sum();
    }

    /**
     * Builds and parses the structure ({@link #structureBytes()} on the heap, twice while it is
     * parsed), checks it with {@link ModelAudit} and marks the cut initializers as external data
     * in the file.
     *
     * @throws LetheException INVALID_ARGUMENT (field chunk) for a malformed file or external data
     *     in the upload, RESOURCE_EXHAUSTED beyond {@code limits}
     */
    public ScannedModel scan(GraphLimits limits) {
      if (structureBytes > Integer.MAX_VALUE - 16) {
        throw LetheException.tooLarge("chunk", "the model's structure (without its large "
            + "initializers) exceeds 2 GiB");
      }
      byte[] bytes = new byte[(int) structureBytes];
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
        FileWire wire = new FileWire(ch, size);
        CodedOutputStream out = CodedOutputStream.newInstance(bytes);
        write(pieces, wire, out);
        out.checkNoSpaceLeft();
      } catch (IOException e) {
        throw new UncheckedIOException("reading the model file " + file, e);
      }
      OnnxMl.ModelProto model;
      try {
        model = OnnxMl.ModelProto.parseFrom(bytes);
      } catch (InvalidProtocolBufferException e) {
        throw LetheException.invalid("chunk", "not a valid ONNX file: " + e.getMessage());
      }
      bytes = null;
      // The audit sees the model as uploaded less the cut payloads: external data is refused.
      ModelAudit.check(model, limits);
      return new ScannedModel(this, ExternalData.attach(model, this));
    }

    private static void write(List<Piece> pieces, FileWire wire, CodedOutputStream out)
        throws IOException {
      byte[] chunk = new byte[64 * 1024];
      for (Piece p : pieces) {
        if (p instanceof Copy c) {
          for (long at = c.from(); at < c.to(); ) {
            int n = (int) Math.min(chunk.length, c.to() - at);
            wire.read(at, chunk, 0, n);
            out.writeRawBytes(chunk, 0, n);
            at += n;
          }
        } else if (p instanceof Nested n) {
          out.writeUInt32NoTag(n.tag());
          out.writeUInt64NoTag(n.bodySize());
          write(n.children(), wire, out);
        }
      }
    }
  }

  /**
   * Walks {@code file}: finds the top-level initializers' payloads and sizes the structure.
   *
   * @throws LetheException INVALID_ARGUMENT (field chunk) for malformed protobuf
   */
  public static Layout layout(Path file) {
    return layout(file, CUT_BYTES);
  }

  /**
   * The layout that cuts nothing: every initializer stays in the structure. For a model with
   * symbolic dimensions after the batch ({@link #needsWhole}), whose gradient graph is built
   * again for each new size long after the scanned file is gone.
   */
  public static Layout whole(Path file) {
    return layout(file, Integer.MAX_VALUE);
  }

  /**
   * True when {@code model} has symbolic input dimensions after the batch: its structure must
   * keep its weights ({@link #whole}), since a later specialisation to a new sequence length
   * cannot read them from a file that was deleted.
   */
  public static boolean needsWhole(ScannedModel model) {
    return !SymbolicDims.of(model.model()).isEmpty();
  }

  /** As {@link #layout(Path)}, cutting payloads of at least {@code cutBytes} (tests). */
  static Layout layout(Path file, int cutBytes) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      FileWire wire = new FileWire(ch, size);
      List<Payload> found = new ArrayList<>();
      List<Piece> pieces = new ArrayList<>();
      while (wire.pos < size) {
        long start = wire.pos;
        int tag = wire.readTag(size);
        if (tag >>> 3 == MODEL_GRAPH && (tag & 7) == 2) {
          long len = wire.readLength(size);
          List<Piece> graph = graph(wire, wire.pos + len, found, cutBytes);
          pieces.add(nested(tag, graph));
        } else {
          wire.skip(tag, size);
          append(pieces, start, wire.pos);
        }
      }
      long structure = pieces.stream().mapToLong(Piece::size).sum();
      return new Layout(file, size, structure, List.copyOf(found), pieces);
    } catch (IOException e) {
      throw new UncheckedIOException("reading the model file " + file, e);
    }
  }

  private static List<Piece> graph(FileWire wire, long end, List<Payload> found,
      int cutBytes) {
    List<Piece> pieces = new ArrayList<>();
    while (wire.pos < end) {
      long start = wire.pos;
      int tag = wire.readTag(end);
      if (tag >>> 3 == GRAPH_INITIALIZER && (tag & 7) == 2) {
        long len = wire.readLength(end);
        long body = wire.pos;
        Payload p = tensor(wire, body + len, found, cutBytes);
        if (p != null && p.cut()) {
          // The tensor without its payload field: the ranges before and after it.
          List<Piece> t = new ArrayList<>();
          append(t, body, p.fieldStart());
          append(t, p.offset() + p.length(), body + len);
          pieces.add(nested(tag, t));
        } else {
          append(pieces, start, wire.pos);
        }
      } else {
        wire.skip(tag, end);
        append(pieces, start, wire.pos);
      }
    }
    return pieces;
  }

  /** One initializer: records its payload; returns it (null when it has none). */
  private static Payload tensor(FileWire wire, long end, List<Payload> found, int cutBytes) {
    String name = null;
    long offset = -1;
    long fieldStart = -1;
    long length = 0;
    int payloadField = 0;
    int payloads = 0;
    long dataType = 0;
    boolean external = false;
    while (wire.pos < end) {
      long start = wire.pos;
      int tag = wire.readTag(end);
      int field = tag >>> 3;
      if (field == TENSOR_NAME && (tag & 7) == 2) {
        name = wire.readString(wire.readLength(end));
      } else if ((field == TENSOR_RAW_DATA || field == TENSOR_FLOAT_DATA
          || field == TENSOR_DOUBLE_DATA) && (tag & 7) == 2) {
        long len = wire.readLength(end);
        if (len > 0) {
          payloads++;
          if (field != TENSOR_DOUBLE_DATA) {
            fieldStart = start;
            offset = wire.pos;
            length = len;
          }
          payloadField = field;
        }
        wire.pos += len;
      } else if (field == TENSOR_DATA_TYPE && (tag & 7) == 0) {
        dataType = wire.readVarint(end);
      } else if (field == TENSOR_DATA_LOCATION && (tag & 7) == 0) {
        external = wire.readVarint(end) == 1;
      } else {
        wire.skip(tag, end);
      }
    }
    boolean cut = payloads == 1 && !external && offset >= 0 && length >= cutBytes
        && (payloadField == TENSOR_RAW_DATA && dataType != OnnxMl.TensorProto.DataType.INT64_VALUE
                && dataType != OnnxMl.TensorProto.DataType.INT32_VALUE
                && dataType != OnnxMl.TensorProto.DataType.STRING_VALUE
            || payloadField == TENSOR_FLOAT_DATA
                && dataType == OnnxMl.TensorProto.DataType.FLOAT_VALUE);
    Payload p = new Payload(name, fieldStart, offset, offset < 0 ? 0 : length, external, cut);
    found.add(p);
    return offset < 0 ? null : p;
  }

  private static Nested nested(int tag, List<Piece> children) {
    return new Nested(tag, children, children.stream().mapToLong(Piece::size).sum());
  }

  private static void append(List<Piece> pieces, long from, long to) {
    if (to <= from) {
      return;
    }
    if (!pieces.isEmpty() && pieces.get(pieces.size() - 1) instanceof Copy c && c.to() == from) {
      pieces.set(pieces.size() - 1, new Copy(c.from(), to));
    } else {
      pieces.add(new Copy(from, to));
    }
  }
}
