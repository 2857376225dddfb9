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
 * @param rows how the rows were made (what a leave-out erase must recompute for its samples), or
 *     null for Fishers written before it was recorded
 * @param withFisher true when every block's F (not only F⁻¹) is stored beside it, packed like
 *     the inverse, so a leave-out erase refactors F₋S without inverting F⁻¹ first
 * @param kronecker for a KFAC or EKFAC Fisher, its dense layers (the blocks then cover only the
 *     other parameters, {@link Kronecker#others()}); null for a block-diagonal one. Stored with
 *     magic "LFI3"; block-diagonal headers keep "LFI2", and LFI1/LFI2 headers still load
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
    byte storage,
    Rows rows,
    boolean withFisher,
    Kronecker kronecker) {
  private static final int MAGIC = 0x4C464931; // "LFI1"
  /** Version 2 adds the rows' description and the stored-F flag. */
  private static final int MAGIC2 = 0x4C464932; // "LFI2"
  /** Version 3 adds the Kronecker-factored layers of a KFAC or EKFAC Fisher. */
  private static final int MAGIC3 = 0x4C464933; // "LFI3"
  /** Storage of a block: the dense b × b inverse, float32 little-endian, row-major. */
  public static final byte DENSE_F32_LE = 1;
  /**
   * Storage of a block: the upper triangle of the symmetric inverse, row by row (row i holds
   * entries (i, i..b−1)), float32 little-endian: b(b+1)/2 values, half the bytes of dense, the
   * same float32 values (no precision lost).
   */
  public static final byte PACKED_UPPER_F32_LE = 2;
  private static final String DOWNDATED = "+downdate";

  /**
   * How a Fisher's rows were made, so a leave-out erase can make the same rows for its samples.
   *
   * @param perSample rows per sample (1, C or the draws; the accumulator divides by n·perSample)
   * @param draws MONTE_CARLO labels drawn per sample (1 otherwise)
   * @param seed the MONTE_CARLO seed
   * @param keyedById true when MONTE_CARLO draws were seeded by (seed, sample id) — every
   *     sample streamed had an id — rather than by the stream position, which an erase cannot know
   */
  public record Rows(int perSample, int draws, long seed, boolean keyedById) {
    public Rows {
      if (perSample < 1 || draws < 1) {
        throw new IllegalArgumentException("rows per sample and draws must be >= 1");
      }
    }
  }

  /** A block-diagonal Fisher's header (no Kronecker layers). */
  public FisherHeader(BlockLayout layout, double dampening, long samples, int miniBatch,
      CurvatureKind kind, InversionMethod method, boolean downdated, long modelVersion,
      int[] blockCrc, byte storage, Rows rows, boolean withFisher) {
    this(layout, dampening, samples, miniBatch, kind, method, downdated, modelVersion, blockCrc,
        storage, rows, withFisher, null);
  }

  public FisherHeader {
    if (kronecker != null && kronecker.others().length > 0
        && layout.parameterCount() != kronecker.otherEntries()) {
      throw new IllegalArgumentException("the blocks cover " + layout.parameterCount()
          + " entries, the other parameters have " + kronecker.otherEntries());
    }
    if (blockCrc != null && blockCrc.length != layout.blockCount()) {
      throw new IllegalArgumentException(
          "checksums for " + blockCrc.length + " blocks, layout has " + layout.blockCount());
    }
    if (storage != DENSE_F32_LE && storage != PACKED_UPPER_F32_LE) {
      throw new IllegalArgumentException("unknown block storage " + storage);
    }
    if (withFisher && storage != PACKED_UPPER_F32_LE) {
      throw new IllegalArgumentException("F blocks are stored packed only");
    }
  }

  /** A Fisher stored the way Lethe writes them ({@link #PACKED_UPPER_F32_LE}), F beside F⁻¹. */
  public FisherHeader(BlockLayout layout, double dampening, long samples, int miniBatch,
      CurvatureKind kind, InversionMethod method, boolean downdated, long modelVersion,
      int[] blockCrc, Rows rows) {
    this(layout, dampening, samples, miniBatch, kind, method, downdated, modelVersion, blockCrc,
        PACKED_UPPER_F32_LE, rows, true);
  }

  /** As above with the rows of an EMPIRICAL build (one per sample). */
  public FisherHeader(BlockLayout layout, double dampening, long samples, int miniBatch,
      CurvatureKind kind, InversionMethod method, boolean downdated, long modelVersion,
      int[] blockCrc) {
    this(layout, dampening, samples, miniBatch, kind, method, downdated, modelVersion, blockCrc,
        new Rows(1, 1, 0, false));
  }

  public boolean packed() {
    return storage == PACKED_UPPER_F32_LE;
  }

  /** The bytes a stored block of {@code b} has (the inverse; F, when stored, has as many). */
  public long storedBytes(int b) {
    long size = layout.size(b);
    return (packed() ? size * (size + 1) / 2 : size * size) * Float.BYTES;
  }

  /** Bytes of all stored inverse blocks (what one apply reads). */
  public long totalStoredBytes() {
    long total = 0;
    for (int b = 0; b < layout.blockCount(); b++) {
      total += storedBytes(b);
    }
    return total;
  }

  /** Bytes on disk: the inverse blocks, and F's blocks when stored beside them, and the layers' factors. */
  public long totalBytes() {
    return totalStoredBytes() * (withFisher ? 2 : 1)
        + (kronecker == null ? 0 : kronecker.storedBytes());
  }

  /** How F is approximated: BLOCK_DIAGONAL, or the Kronecker section's KFAC / EKFAC. */
  public FisherStructure structure() {
    return kronecker == null ? FisherStructure.BLOCK_DIAGONAL : kronecker.structure();
  }

  /** P, every erasable entry (the blocks' and the layers'). */
  public long parameterCount() {
    return kronecker == null ? layout.parameterCount() : kronecker.offsets()[kronecker.offsets().length - 1];
  }

  public FisherHeader withChecksums(int[] crc) {
    return new FisherHeader(layout, dampening, samples, miniBatch, kind, method, downdated,
        modelVersion, crc, storage, rows, withFisher, kronecker);
  }

  /** The same header saying whether F's blocks are stored (the writer knows at commit). */
  public FisherHeader withFisher(boolean stored) {
    return new FisherHeader(layout, dampening, samples, miniBatch, kind, method, downdated,
        modelVersion, blockCrc, storage, rows, stored, kronecker);
  }

  /** The same header with {@code r} as its rows' description. */
  public FisherHeader withRows(Rows r) {
    return new FisherHeader(layout, dampening, samples, miniBatch, kind, method, downdated,
        modelVersion, blockCrc, storage, r, withFisher, kronecker);
  }

  /** The header of the same Fisher over {@code n} samples, downdated, without checksums yet. */
  public FisherHeader downdatedTo(long n) {
    return new FisherHeader(layout, dampening, n, 1, kind, method, true, modelVersion, null,
        PACKED_UPPER_F32_LE, rows, true, kronecker);
  }

  byte[] encode() {
    if (blockCrc == null) {
      throw new IllegalStateException("header without block checksums");
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeInt(kronecker == null ? MAGIC2 : MAGIC3);
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
      out.writeBoolean(rows != null);
      if (rows != null) {
        out.writeInt(rows.perSample());
        out.writeInt(rows.draws());
        out.writeLong(rows.seed());
        out.writeBoolean(rows.keyedById());
      }
      out.writeBoolean(withFisher);
      if (kronecker != null) {
        kronecker.encode(out);
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
      int magic = in.getInt();
      byte storage;
      if ((magic != MAGIC && magic != MAGIC2 && magic != MAGIC3)
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
      Rows rows = null;
      boolean withFisher = false;
      Kronecker kronecker = null;
      if (magic == MAGIC2 || magic == MAGIC3) {
        if (in.get() != 0) {
          rows = new Rows(in.getInt(), in.getInt(), in.getLong(), in.get() != 0);
        }
        withFisher = in.get() != 0;
      }
      if (magic == MAGIC3) {
        kronecker = Kronecker.decode(in);
      }
      if (in.hasRemaining()) {
        throw new IllegalArgumentException("trailing bytes");
      }
      return new FisherHeader(layout, dampening, samples, miniBatch, kind, method, downdated,
          modelVersion, crc, storage, rows, withFisher, kronecker);
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
        && java.util.Objects.equals(h.rows, rows)
        && h.withFisher == withFisher
        && java.util.Objects.equals(h.kronecker, kronecker)
        && Arrays.equals(h.blockCrc, blockCrc);
  }

  @Override
  public int hashCode() {
    return layout.hashCode() * 31 + Arrays.hashCode(blockCrc);
  }
}
