package dev.lethe.fisher;

import dev.lethe.core.LetheException;
import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.StorageException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.zip.CRC32C;

/**
 * Fisher inverses in the {@code fisher} column family of a {@link LetheDb}.
 *
 * <p>Keys: {@code model 0x00 fisherId 0x00 'b' block(4 bytes BE)} → the block's inverse, dense
 * upper triangle, float32 little-endian, row by row ({@link FisherHeader#PACKED_UPPER_F32_LE},
 * 2 MiB at b = 1024, one value per block; Fishers written before packing are dense b × b,
 * {@link FisherHeader#DENSE_F32_LE}, and still read); {@code … 'f' block} → the block's F
 * itself, packed the same way, followed by its CRC32C (4 bytes LE) — present when the header
 * says {@link FisherHeader#withFisher()}: a leave-out erase refactors F₋S from it, an apply
 * never reads it; {@code model 0x00 fisherId 0x00 "meta"} → {@link FisherHeader}.
 *
 * <p>Atomicity: {@link #create} first deletes whatever is stored under the id (one batch, header
 * included), blocks are then written one synced batch each, and {@link Writer#commit} writes the
 * header last. A Fisher without a header is incomplete and is never opened; its blocks are
 * removed by {@link Writer#close} (or by the next create or delete of that id). {@link #delete}
 * removes header and blocks in one range delete.
 *
 * <p>Thread-safe; does not own the database (the caller closes it).
 */
public final class FisherStore {
  private static final byte[] META = "meta".getBytes(StandardCharsets.US_ASCII);

  private final LetheDb db;

  public FisherStore(LetheDb db) {
    this.db = db;
  }

  LetheDb db() {
    return db;
  }

  static byte[] prefix(String model, String fisherId) {
    if (model.isEmpty() || model.indexOf('\0') >= 0) {
      throw LetheException.invalid("name", "model name must be non-empty without NUL");
    }
    if (fisherId.isEmpty() || fisherId.indexOf('\0') >= 0) {
      throw LetheException.invalid("fisher_id", "must be non-empty without NUL");
    }
    return Keys.concat(Keys.modelPrefix(model), Keys.concat(fisherId.getBytes(StandardCharsets.UTF_8), new byte[] {0}));
  }

  static byte[] blockKey(byte[] prefix, int block) {
    return Keys.concat(prefix, ByteBuffer.allocate(5).put((byte) 'b').putInt(block).array());
  }

  static byte[] fisherKey(byte[] prefix, int block) {
    return Keys.concat(prefix, ByteBuffer.allocate(5).put((byte) 'f').putInt(block).array());
  }

  /**
   * Reads block {@code b}'s F (stored beside the inverse) into {@code out}, row-major b × b,
   * the upper triangle only (the entries below the diagonal are not written).
   *
   * @throws StorageException naming model, Fisher and block when it is missing or corrupt
   */
  void readFisherBlock(String model, String fisherId, FisherHeader h, int b, double[] out) {
    int size = h.layout().size(b);
    String where = "Fisher " + fisherId + " of model " + model + ": F of block " + b;
    byte[] v = db.get(Family.FISHER, fisherKey(prefix(model, fisherId), b));
    if (v == null) {
      throw new StorageException(where + " is missing");
    }
    long expected = h.storedBytes(b) + Integer.BYTES;
    if (v.length != expected) {
      throw new StorageException(where + " is corrupt: " + v.length + " bytes, expected " + expected);
    }
    CRC32C crc = new CRC32C();
    crc.update(v, 0, v.length - Integer.BYTES);
    ByteBuffer in = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
    if ((int) crc.getValue() != in.getInt(v.length - Integer.BYTES)) {
      throw new StorageException(where + " is corrupt: checksum mismatch");
    }
    java.nio.FloatBuffer f = in.asFloatBuffer();
    float[] row = new float[size];
    for (int i = 0, pos = 0; i < size; pos += size - i, i++) {
      f.get(pos, row, 0, size - i);
      int base = i * size + i;
      for (int j = 0; j < size - i; j++) {
        out[base + j] = row[j];
      }
    }
  }

  /** Part {@code part} of Kronecker layer {@code layer}, verified ({@link KroneckerParts#read}). */
  double[] readPart(String model, String fisherId, FisherHeader h, int layer, byte part) {
    return KroneckerParts.read(db, prefix(model, fisherId), "Fisher " + fisherId + " of model "
        + model, h, layer, part);
  }

  /** Part {@code part} of layer {@code layer} in float32 as stored (unpacked parts only). */
  float[] readPartFloats(String model, String fisherId, FisherHeader h, int layer, byte part) {
    return KroneckerParts.readFloats(db, prefix(model, fisherId), "Fisher " + fisherId
        + " of model " + model, h, layer, part);
  }

  /** Adds the deletion of Fisher {@code fisherId} (header and every block) to {@code batch}. */
  public static void deleteIn(LetheDb.Batch batch, String model, String fisherId) {
    batch.deletePrefix(Family.FISHER, prefix(model, fisherId));
  }

  /**
   * Every Fisher id stored per model, complete or not (a build killed before its header leaves
   * blocks without one). Reads keys only, one seek per Fisher.
   */
  public static Map<String, Set<String>> storedIds(LetheDb db) {
    Map<String, Set<String>> out = new TreeMap<>();
    db.scanGroups(Family.FISHER, key -> {
      int a = indexOfZero(key, 0);
      int b = indexOfZero(key, a + 1);
      return java.util.Arrays.copyOf(key, b + 1);
    }, group -> {
      int a = indexOfZero(group, 0);
      String model = new String(group, 0, a, StandardCharsets.UTF_8);
      String id = new String(group, a + 1, group.length - a - 2, StandardCharsets.UTF_8);
      out.computeIfAbsent(model, m -> new TreeSet<>()).add(id);
    });
    return out;
  }

  private static int indexOfZero(byte[] key, int from) {
    for (int i = from; i < key.length; i++) {
      if (key[i] == 0) {
        return i;
      }
    }
    throw new StorageException("malformed fisher key");
  }

  /** The header of a complete Fisher, or empty when there is none under that id. */
  public Optional<FisherHeader> header(String model, String fisherId) {
    byte[] bytes = db.get(Family.FISHER, Keys.concat(prefix(model, fisherId), META));
    if (bytes == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(FisherHeader.decode(bytes));
    } catch (IllegalArgumentException e) {
      throw new StorageException(
          "Fisher " + fisherId + " of model " + model + ": corrupt header: " + e.getMessage(), e);
    }
  }

  /** Removes the Fisher (header and every block) atomically; a missing one is not an error. */
  public void delete(String model, String fisherId) {
    byte[] prefix = prefix(model, fisherId);
    db.write(b -> b.deletePrefix(Family.FISHER, prefix));
  }

  /**
   * Starts writing a Fisher under {@code fisherId}, replacing any stored there. {@code header}
   * describes it; its checksums are ignored (the writer computes them).
   */
  public Writer create(String model, String fisherId, FisherHeader header) {
    return new Writer(model, fisherId, header);
  }

  /**
   * Opens a complete Fisher for {@link FisherInverse#apply}; the caller closes it.
   *
   * @param pool the shared Fisher pool the apply runs on, or null for the calling thread
   * @param parallelism tasks per apply (one reused direct buffer of the largest block each)
   * @param verify check each block's CRC32C on every read
   * @throws LetheException FAILED_PRECONDITION when there is no such Fisher
   */
  public FisherInverse open(String model, String fisherId, ExecutorService pool, int parallelism,
      boolean verify) {
    FisherHeader header =
        header(model, fisherId)
            .orElseThrow(() -> LetheException.precondition("model " + model + " has no Fisher " + fisherId));
    if (header.kronecker() != null) {
      throw new IllegalArgumentException("Fisher " + fisherId + " is " + header.structure()
          + ": open it through Fishers.solver");
    }
    return new FisherInverse(this, model, fisherId, header, pool, parallelism, verify);
  }

  /**
   * Reads block {@code b} into the direct buffer {@code value} (position 0, limit = its size,
   * little-endian) and checks its size and (when {@code verify}) its checksum. {@code key} is a
   * direct scratch buffer of at least {@link #keyBytes} bytes.
   *
   * @throws StorageException naming model, Fisher and block when it is missing or corrupt
   */
  void readBlock(
      String model, String fisherId, byte[] prefix, FisherHeader h, int b, ByteBuffer key, ByteBuffer value, boolean verify) {
    key.clear();
    key.put(prefix).put((byte) 'b').putInt(b).flip();
    long expected = h.storedBytes(b);
    value.clear();
    int size = db.get(Family.FISHER, key, value);
    String where = "Fisher " + fisherId + " of model " + model + ": block " + b;
    if (size < 0) {
      throw new StorageException(where + " is missing");
    }
    if (size != expected) {
      throw new StorageException(where + " is corrupt: " + size + " bytes, expected " + expected);
    }
    value.position(0).limit(size);
    value.order(ByteOrder.LITTLE_ENDIAN);
    if (verify) {
      CRC32C crc = new CRC32C();
      crc.update(value.duplicate());
      if ((int) crc.getValue() != h.blockCrc()[b]) {
        throw new StorageException(where + " is corrupt: checksum mismatch");
      }
    }
  }

  static int keyBytes(byte[] prefix) {
    return prefix.length + 5;
  }

  /**
   * Writes one Fisher: a {@link BlockSink} (thread-safe, as the builders need), then
   * {@link #commit}. Closing without a commit removes what was written.
   */
  public final class Writer implements FisherSink {
    private final String model;
    private final String fisherId;
    private final byte[] prefix;
    private final FisherHeader header;
    private final AtomicIntegerArray crc;
    private final AtomicIntegerArray written;
    private final AtomicIntegerArray fisherWritten;
    private final java.util.concurrent.atomic.AtomicInteger parts =
        new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.Set<Long> partsWritten = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile boolean committed;

    /**
     * Stores part {@code part} of Kronecker layer {@code layer} ({@link Kronecker}): the values
     * as float32 little-endian with a CRC32C trailer, one synced write. For packed parts
     * ({@link Kronecker#A}, {@link Kronecker#G}) {@code values} is the full row-major square
     * matrix and its upper triangle is stored. Thread-safe; each part once.
     */
    public void putPart(int layer, byte part, double[] values) {
      put(layer, part, KroneckerParts.encode(checkedLayer(layer, part), part, values));
    }

    /** {@link #putPart(int, byte, double[])} of an unpacked part already in float32. */
    public void putPart(int layer, byte part, float[] values) {
      put(layer, part, KroneckerParts.encode(checkedLayer(layer, part), part, values));
    }

    private KroneckerLayer checkedLayer(int layer, byte part) {
      Kronecker k = header.kronecker();
      if (k == null || layer < 0 || layer >= k.layers().size()) {
        throw new IllegalArgumentException("no Kronecker layer " + layer);
      }
      if (committed) {
        throw new IllegalStateException("Fisher " + fisherId + " already committed");
      }
      if (!partsWritten.add(((long) layer << 8) | part)) {
        throw new IllegalStateException("layer " + layer + " part " + (char) part + " written twice");
      }
      return k.layers().get(layer);
    }

    private void put(int layer, byte part, byte[] value) {
      byte[] key = KroneckerParts.key(prefix, layer, part);
      db.write(w -> w.put(Family.FISHER, key, value));
      parts.incrementAndGet();
    }

    private Writer(String model, String fisherId, FisherHeader header) {
      this.model = model;
      this.fisherId = fisherId;
      this.prefix = prefix(model, fisherId);
      this.header = header;
      int blocks = header.layout().blockCount();
      this.crc = new AtomicIntegerArray(blocks);
      this.written = new AtomicIntegerArray(blocks);
      this.fisherWritten = new AtomicIntegerArray(blocks);
      db.write(b -> b.deletePrefix(Family.FISHER, prefix));
    }

    /**
     * Stores block {@code block} (b × b, row-major, symmetric) as float32 in the header's
     * storage: its upper triangle row by row when packed, every entry when dense.
     */
    @Override
    public void accept(int block, double[] inverse) {
      int b = header.layout().size(block);
      if (inverse.length != b * b) {
        throw new IllegalArgumentException("block " + block + ": expected " + b * b + " values, got " + inverse.length);
      }
      byte[] bytes = new byte[(int) header.storedBytes(block)];
      ByteBuffer out = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
      boolean packed = header.packed();
      for (int i = 0; i < b; i++) {
        for (int j = packed ? i : 0; j < b; j++) {
          out.putFloat((float) inverse[i * b + j]);
        }
      }
      putBlock(block, bytes);
    }

    /**
     * Stores block {@code block}'s F (b × b, row-major, symmetric) beside its inverse, packed
     * float32 with a CRC32C trailer. Either every block's F is stored or none (checked at
     * commit). Only for packed Fishers.
     */
    @Override
    public void acceptFisher(int block, double[] fisher) {
      int b = header.layout().size(block);
      if (fisher.length != b * b) {
        throw new IllegalArgumentException("F of block " + block + ": expected " + b * b
            + " values, got " + fisher.length);
      }
      if (!header.packed()) {
        throw new IllegalStateException("F blocks are stored beside packed inverses only");
      }
      if (committed) {
        throw new IllegalStateException("Fisher " + fisherId + " already committed");
      }
      if (fisherWritten.getAndSet(block, 1) != 0) {
        throw new IllegalStateException("F of block " + block + " written twice");
      }
      int bytes = (int) header.storedBytes(block);
      byte[] value = new byte[bytes + Integer.BYTES];
      ByteBuffer out = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < b; i++) {
        for (int j = i; j < b; j++) {
          out.putFloat((float) fisher[i * b + j]);
        }
      }
      CRC32C c = new CRC32C();
      c.update(value, 0, bytes);
      out.putInt((int) c.getValue());
      byte[] key = fisherKey(prefix, block);
      db.write(w -> w.put(Family.FISHER, key, value));
    }

    /** Stores a block already encoded in the header's storage (float32 little-endian). */
    void putBlock(int block, byte[] bytes) {
      if (committed) {
        throw new IllegalStateException("Fisher " + fisherId + " already committed");
      }
      if (written.getAndSet(block, 1) != 0) {
        throw new IllegalStateException("block " + block + " written twice");
      }
      CRC32C c = new CRC32C();
      c.update(bytes);
      crc.set(block, (int) c.getValue());
      byte[] key = blockKey(prefix, block);
      db.write(b -> b.put(Family.FISHER, key, bytes));
    }

    /**
     * Writes the header, making the Fisher visible.
     *
     * @throws IllegalStateException if a block was not written
     */
    @Override
    public FisherHeader commit(FisherHeader.Rows rows) {
      int[] sums = new int[crc.length()];
      int withF = 0;
      for (int b = 0; b < sums.length; b++) {
        if (written.get(b) == 0) {
          throw new IllegalStateException("Fisher " + fisherId + ": block " + b + " was not written");
        }
        sums[b] = crc.get(b);
        withF += fisherWritten.get(b);
      }
      if (withF != 0 && withF != sums.length) {
        throw new IllegalStateException("Fisher " + fisherId + ": F stored for " + withF + " of "
            + sums.length + " blocks");
      }
      Kronecker k = header.kronecker();
      if (k != null && parts.get() != k.layers().size() * k.parts().length) {
        throw new IllegalStateException("Fisher " + fisherId + ": " + parts.get() + " of "
            + k.layers().size() * k.parts().length + " layer factors were written");
      }
      FisherHeader h = rows == null ? header : header.withRows(rows).withFisher(false);
      FisherHeader done = h.withChecksums(sums).withFisher(withF == sums.length && sums.length > 0);
      byte[] meta = done.encode();
      db.write(b -> b.put(Family.FISHER, Keys.concat(prefix, META), meta));
      committed = true;
      return done;
    }

    /** Removes the blocks written when there was no commit. Idempotent. */
    @Override
    public void close() {
      if (!committed) {
        db.write(b -> b.deletePrefix(Family.FISHER, prefix));
      }
    }

    @Override
    public String toString() {
      return "FisherStore.Writer[" + model + "/" + fisherId + "]";
    }
  }
}
