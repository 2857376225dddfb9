package dev.lethe.fisher;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * What a stored Fisher inverse is: its layout, how it was computed, and a CRC32C per stored
 * block. Stored under (model, fisher id, "meta") after all blocks, so its presence means the
 * Fisher is complete.
 *
 * @param layout the block split
 * @param dampening λ
 * @param samples n, the training samples the Fisher covers
 * @param miniBatch m (1 = per-sample gradients)
 * @param kind which rows the Fisher sums
 * @param method how its blocks were first inverted
 * @param downdated true when erased samples were removed from it afterwards (stored as the
 *     method's id with "+downdate", e.g. "gram+downdate")
 * @param modelVersion the model version whose weights the gradients were taken at
 * @param blockCrc CRC32C of each stored block value, or null before the blocks are written
 * @param storage how a block is stored: {@link #PACKED_UPPER_F32_LE} (what Lethe writes) or
 *     {@link #DENSE_F32_LE} (Fishers written before packing, still read)
 */
public record FisherHeader(
    BlockLayout layout,
    double dampening,
    long samples,
    int miniBatch,
    CurvatureKind kind,
    InversionMethod method,
    boolean downdated,
    long modelVersion,
    int[] blockCrc,
    byte storage) {
  private static final int MAGIC = 0x4C464931; // "LFI1"
  /** Storage of a block: the dense b × b inverse, float32 little-endian, row-major. */
  public static final byte DENSE_F32_LE = 1;
  /**
   * Storage of a block: the upper triangle of the symmetric inverse, row by row (row i holds
   * entries (i, i..b−1)), float32 little-endian: b(b+1)/2 values, half the bytes of dense, the
   * same float32 values (no precision lost).
   */
  public static final byte PACKED_UPPER_F32_LE = 2;
  private static final String DOWNDATED = "+downdate";

  public FisherHeader {
    if (blockCrc != null && blockCrc.length != layout.blockCount()) {
      throw new IllegalArgumentException(
          "checksums for " + blockCrc.length + " blocks, layout has " + layout.blockCount());
    }
    if (storage != DENSE_F32_LE && storage != PACKED_UPPER_F32_LE) {
      throw new IllegalArgumentException("unknown block storage " + storage);
    }
  }

  /** A Fisher stored the way Lethe writes them ({@link #PACKED_UPPER_F32_LE}). */
  public FisherHeader(BlockLayout layout, double dampening, long samples, int miniBatch,
      CurvatureKind kind, InversionMethod method, boolean downdated, long modelVersion,
      int[] blockCrc) {
    this(layout, dampening, samples, miniBatch, kind, method, downdated, modelVersion, blockCrc,
        PACKED_UPPER_F32_LE);
  }

  public boolean packed() {
    return storage == PACKED_UPPER_F32_LE;
  }

  /** The bytes a stored block of {@code b} has. */
  public long storedBytes(int b) {
    long size = layout.size(b);
    return (packed() ? size * (size + 1) / 2 : size * size) * Float.BYTES;
  }

  /** Bytes of all stored blocks (what one apply reads). */
  public long totalStoredBytes() {
    long total = 0;
    for (int b = 0; b < layout.blockCount(); b++) {
      total += storedBytes(b);
    }
    return total;
  }

  public FisherHeader withChecksums(int[] crc) {
    return new FisherHeader(layout, dampening, samples, miniBatch, kind, method, downdated,
        modelVersion, crc, storage);
  }

  byte[] encode() {
    if (blockCrc == null) {
      throw new IllegalStateException("header without block checksums");
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeInt(MAGIC);
      out.writeByte(storage);
      out.writeDouble(dampening);
      out.writeLong(samples);
      out.writeInt(miniBatch);
      writeUtf(out, kind.name());
      writeUtf(out, method.id() + (downdated ? DOWNDATED : ""));
      out.writeLong(modelVersion);
      byte[] l = layout.encode();
      out.writeInt(l.length);
      out.write(l);
      for (int c : blockCrc) {
        out.writeInt(c);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  /** @throws IllegalArgumentException if the bytes are not a header this version can read */
  static FisherHeader decode(byte[] bytes) {
    try {
      ByteBuffer in = ByteBuffer.wrap(bytes);
      byte storage;
      if (in.getInt() != MAGIC
          || ((storage = in.get()) != DENSE_F32_LE && storage != PACKED_UPPER_F32_LE)) {
        throw new IllegalArgumentException("not a Fisher header of a known format");
      }
      double dampening = in.getDouble();
      long samples = in.getLong();
      int miniBatch = in.getInt();
      CurvatureKind kind = CurvatureKind.valueOf(utf(in));
      String how = utf(in);
      boolean downdated = how.endsWith(DOWNDATED);
      InversionMethod method =
          InversionMethod.of(downdated ? how.substring(0, how.length() - DOWNDATED.length()) : how);
      long modelVersion = in.getLong();
      int len = in.getInt();
      BlockLayout layout = BlockLayout.decode(in.slice(in.position(), len));
      in.position(in.position() + len);
      int[] crc = new int[layout.blockCount()];
      for (int i = 0; i < crc.length; i++) {
        crc[i] = in.getInt();
      }
      if (in.hasRemaining()) {
        throw new IllegalArgumentException("trailing bytes");
      }
      return new FisherHeader(layout, dampening, samples, miniBatch, kind, method, downdated,
          modelVersion, crc, storage);
    } catch (java.nio.BufferUnderflowException | IndexOutOfBoundsException e) {
      throw new IllegalArgumentException("truncated Fisher header", e);
    }
  }

  private static String utf(ByteBuffer in) {
    int len = in.getShort() & 0xFFFF;
    byte[] b = new byte[len];
    in.get(b);
    return new String(b, StandardCharsets.UTF_8);
  }

  private static void writeUtf(DataOutputStream out, String s) throws IOException {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    if (b.length > 0xFFFF) {
      throw new IllegalArgumentException("header string longer than 65535 bytes");
    }
    out.writeShort(b.length);
    out.write(b);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FisherHeader h
        && h.layout.equals(layout)
        && Double.compare(h.dampening, dampening) == 0
        && h.samples == samples
        && h.miniBatch == miniBatch
        && h.kind == kind
        && h.method == method
        && h.downdated == downdated
        && h.modelVersion == modelVersion
        && h.storage == storage
        && Arrays.equals(h.blockCrc, blockCrc);
  }

  @Override
  public int hashCode() {
    return layout.hashCode() * 31 + Arrays.hashCode(blockCrc);
  }
}
