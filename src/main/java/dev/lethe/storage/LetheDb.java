package dev.lethe.storage;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.Env;
import org.rocksdb.LRUCache;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Snapshot;
import org.rocksdb.SstFileManager;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The one owner of Lethe's RocksDB: opens it with every {@link Family} as a column family,
 * applies every state change as one synced {@link WriteBatch}, and closes everything in order.
 *
 * <p>Large-value families (graphs, weights, Fisher blocks) keep values in blob files and are read
 * with mmap. Blobs larger than {@link #BLOB_PART_BYTES} are split into parts keyed by a 4-byte
 * big-endian index after the blob's prefix, so no single value is huge and readers stream.
 *
 * <p>Thread-safe: RocksDB handles concurrent reads and writes. {@link #close()} is idempotent;
 * any use after it throws {@link IllegalStateException}.
 */
public final class LetheDb implements AutoCloseable {
  /** Size of one stored part of a blob. */
  public static final int BLOB_PART_BYTES = 4 << 20;

  static {
    RocksDB.loadLibrary();
  }

  private final Path dir;
  /** How often RocksDB retries recovering from a background I/O error, in microseconds. */
  static final long BG_ERROR_RETRY_MICROS = 500_000;
  private final SstFileManager sstFiles;
  private final DBOptions dbOptions;
  private final LRUCache blockCache;
  private final List<ColumnFamilyOptions> cfOptions = new ArrayList<>();
  private final List<ColumnFamilyHandle> handles = new ArrayList<>();
  private final Map<Family, ColumnFamilyHandle> families = new EnumMap<>(Family.class);
  private final WriteOptions syncWrites;
  /**
   * Reads of large values into caller buffers: they bypass the block cache and skip RocksDB's
   * own checksum of the value (for 4 MiB blob values it cut the read rate from 0.95 to 9 GB/s);
   * callers of {@link #get(Family, java.nio.ByteBuffer, java.nio.ByteBuffer)} keep their own
   * checksum (the Fisher store a CRC32C per block).
   */
  private final ReadOptions bufferReads;
  private final RocksDB db;
  private final VolumeState volume = new VolumeState();
  private final BlobIngest ingest;
  private volatile boolean closed;

  private LetheDb(Path dir, long blockCacheBytes) {
    this.dir = dir;
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new StorageException("cannot create data directory " + dir, e);
    }
    try {
      ingest = new BlobIngest(dir);
    } catch (IOException e) {
      throw new StorageException("cannot prepare " + dir.resolve("ingest"), e);
    }
    try {
      sstFiles = new SstFileManager(Env.getDefault());
    } catch (RocksDBException e) {
      throw new StorageException("cannot create the SST file manager for " + dir, e);
    }
    // With an SST file manager RocksDB recovers from an out-of-space error in a flush or a
    // compaction by itself once space is back, retrying every BG_ERROR_RETRY_MICROS. Writes keep
    // VolumeState.RESERVE_BYTES free so that RocksDB's own writes do not run out (see write).
    dbOptions =
        new DBOptions()
            .setCreateIfMissing(true)
            .setCreateMissingColumnFamilies(true)
            .setAllowMmapReads(true)
            .setSstFileManager(sstFiles)
            .setMaxBgErrorResumeCount(Integer.MAX_VALUE)
            .setBgerrorResumeRetryInterval(BG_ERROR_RETRY_MICROS);
    blockCache = new LRUCache(blockCacheBytes);
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    ColumnFamilyOptions defaultOptions = new ColumnFamilyOptions();
    cfOptions.add(defaultOptions);
    descriptors.add(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, defaultOptions));
    for (Family f : Family.values()) {
      ColumnFamilyOptions o =
          new ColumnFamilyOptions()
              .setTableFormatConfig(new BlockBasedTableConfig().setBlockCache(blockCache));
      if (f.largeValues()) {
        o.setEnableBlobFiles(true)
            .setMinBlobSize(64 * 1024)
            .setBlobFileSize(256L << 20)
            .setEnableBlobGarbageCollection(true);
      }
      cfOptions.add(o);
      descriptors.add(new ColumnFamilyDescriptor(f.cfNameBytes(), o));
    }
    syncWrites = new WriteOptions().setSync(true);
    bufferReads = new ReadOptions().setFillCache(false).setVerifyChecksums(false);
    try {
      db = RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
    } catch (RocksDBException e) {
      syncWrites.close();
      bufferReads.close();
      closeOptions();
      if (String.valueOf(e.getMessage()).contains("lock")) {
        // RocksDB's LOCK file: another process (a second replica, a second `lethe serve`) has
        // the store open. One writer per data directory; say so instead of a stack trace.
        throw new StoreLockedException(dir, e);
      }
      throw new StorageException("cannot open store at " + dir + ": " + e.getMessage(), e);
    }
    for (int i = 0; i < Family.values().length; i++) {
      families.put(Family.values()[i], handles.get(i + 1));
    }
  }

  /** Opens (creating if needed) the store in {@code dir} with a block cache of the given size. */
  public static LetheDb open(Path dir, long blockCacheBytes) {
    return new LetheDb(dir, blockCacheBytes);
  }

  public static LetheDb open(Path dir) {
    return open(dir, 64L << 20);
  }

  public Path directory() {
    return dir;
  }

  /** The value of {@code key}, or null. */
  public byte[] get(Family family, byte[] key) {
    ensureOpen();
    try {
      return db.get(families.get(family), key);
    } catch (RocksDBException e) {
      throw wrap("get from " + family.cfName(), e);
    }
  }

  /**
   * Reads the value of {@code key} into {@code value} without a heap copy. Both buffers must be
   * direct. The key is read from its position to its limit (neither is changed). On return the
   * value buffer holds {@code min(size, remaining)} bytes from its position, its limit set after
   * them; the result is the full size of the stored value (larger than what was copied when the
   * buffer was too small), or -1 when there is no such key. Thread-safe; the caller owns (and
   * reuses) both buffers. RocksDB does not verify the value's checksum on this path: the caller
   * must check its own.
   */
  public int get(Family family, java.nio.ByteBuffer key, java.nio.ByteBuffer value) {
    ensureOpen();
    if (!key.isDirect() || !value.isDirect()) {
      throw new IllegalArgumentException("key and value buffers must be direct");
    }
    try {
      int size = db.get(families.get(family), bufferReads, key.duplicate(), value);
      return size == RocksDB.NOT_FOUND ? -1 : size;
    } catch (RocksDBException e) {
      throw wrap("get from " + family.cfName(), e);
    }
  }

  /**
   * Applies the changes the callback adds to one batch, atomically and synced to disk.
   *
   * @throws dev.lethe.core.LetheException RESOURCE_EXHAUSTED when the data volume is full (then
   *     {@link #writable()} is false until {@link #tryResume} succeeds)
   */
  public void write(java.util.function.Consumer<Batch> changes) {
    ensureOpen();
    try (WriteBatch batch = new WriteBatch()) {
      changes.accept(new Batch(batch));
      // Refused before RocksDB runs out: an out-of-space failure inside RocksDB's WAL write stops
      // all its writes until the process restarts (RocksJava has no DB::Resume()).
      if (!volume.hasRoom(dir, batch.getDataSize())) {
        throw VolumeState.full("the change", null);
      }
      db.write(syncWrites, batch);
    } catch (RocksDBException e) {
      if (VolumeState.noSpace(e)) {
        volume.set(false);
        throw VolumeState.full("the change", wrap("write batch", e));
      }
      throw wrap("write batch", e);
    }
  }

  /**
   * Stores the bytes of the direct buffer {@code data} (position to limit; neither changed) as
   * the blob under {@code prefix}, replacing any blob there, outside any batch: written once,
   * synced, and ingested ({@link BlobIngest}). Visible when this returns; a later {@link #write}
   * makes it reachable, or it is debris for the start-up sweep.
   *
   * @throws dev.lethe.core.LetheException RESOURCE_EXHAUSTED when the data volume is full
   */
  public void ingestBlob(Family family, byte[] prefix, java.nio.ByteBuffer data) {
    ensureOpen();
    if (!data.isDirect()) {
      throw new IllegalArgumentException("the blob's buffer must be direct");
    }
    if (!volume.hasRoom(dir, data.remaining())) {
      throw VolumeState.full("the change", null);
    }
    try {
      ingest.ingest(db, families.get(family), syncWrites, prefix, data, BLOB_PART_BYTES);
    } catch (RocksDBException | IOException e) {
      if (VolumeState.noSpace(e)) {
        throw VolumeState.full("the change", e);
      }
      throw new StorageException("store at " + dir + ": ingesting a blob into "
          + family.cfName() + " failed: " + e.getMessage(), e);
    }
  }

  /** False from a write that failed for lack of space until {@link #tryResume} succeeds. */
  public boolean writable() {
    return volume.writable();
  }

  /** Calls {@code listener} with every change of {@link #writable()} (on the changing thread). */
  public void onWritableChange(java.util.function.Consumer<Boolean> listener) {
    volume.listen(listener);
  }

  /**
   * After a write was refused for lack of space: whether the volume has room again (at least
   * {@link VolumeState#RESERVE_BYTES} free), proven by a synced probe write. Returns whether writes
   * succeed now; cheap to call repeatedly.
   */
  public boolean tryResume() {
    ensureOpen();
    if (volume.writable()) {
      return true;
    }
    if (!volume.hasRoom(dir, 0)) {
      return false;
    }
    try (WriteBatch probe = new WriteBatch()) {
      probe.put(handles.get(0), PROBE_KEY, new byte[8]);
      probe.delete(handles.get(0), PROBE_KEY);
      db.write(syncWrites, probe);
      volume.set(true);
      return true;
    } catch (RocksDBException e) {
      volume.stuck(dir, e);
      return false;
    }
  }

  private static final byte[] PROBE_KEY = "lethe.volume-probe".getBytes(java.nio.charset.StandardCharsets.UTF_8);

  /** Calls {@code visitor} for every (key, value) whose key starts with {@code prefix}, in key order. */
  public void scan(Family family, byte[] prefix, BiConsumer<byte[], byte[]> visitor) {
    ensureOpen();
    try (RocksIterator it = db.newIterator(families.get(family))) {
      for (it.seek(prefix); it.isValid() && Keys.startsWith(it.key(), prefix); it.next()) {
        visitor.accept(it.key(), it.value());
      }
      it.status();
    } catch (RocksDBException e) {
      throw wrap("scan " + family.cfName(), e);
    }
  }

  /**
   * Calls {@code visitor} once per group of keys in {@code family}, in key order, without reading
   * values: {@code groupOf} maps a key to the prefix all keys of its group share (a Fisher, a
   * weight set), and the scan seeks past the group instead of stepping through it.
   */
  public void scanGroups(Family family, java.util.function.UnaryOperator<byte[]> groupOf,
      java.util.function.Consumer<byte[]> visitor) {
    ensureOpen();
    try (RocksIterator it = db.newIterator(families.get(family))) {
      it.seekToFirst();
      while (it.isValid()) {
        byte[] group = groupOf.apply(it.key());
        visitor.accept(group);
        it.seek(Keys.prefixEnd(group));
      }
      it.status();
    } catch (RocksDBException e) {
      throw wrap("scan " + family.cfName(), e);
    }
  }

  /**
   * Opens the blob stored under {@code prefix} for streaming, at a consistent snapshot: a write
   * that replaces or deletes the blob meanwhile does not affect the stream. Returns null when
   * there is no such blob. The caller must close the stream (it holds the snapshot).
   */
  public InputStream openBlob(Family family, byte[] prefix) {
    ensureOpen();
    Snapshot snapshot = db.getSnapshot();
    ReadOptions read = new ReadOptions().setSnapshot(snapshot).setFillCache(false);
    RocksIterator it = db.newIterator(families.get(family), read);
    it.seek(prefix);
    if (!it.isValid() || !Keys.startsWith(it.key(), prefix)) {
      it.close();
      read.close();
      db.releaseSnapshot(snapshot);
      return null;
    }
    return new BlobInputStream(it, prefix, () -> {
      read.close();
      if (!closed) {
        db.releaseSnapshot(snapshot);
      }
    });
  }

  /** Reads a whole blob into memory, or null. */
  public byte[] readBlob(Family family, byte[] prefix) {
    try (InputStream in = openBlob(family, prefix)) {
      return in == null ? null : in.readAllBytes();
    } catch (IOException e) {
      throw new StorageException("read blob from " + family.cfName(), e);
    }
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("store at " + dir + " is closed");
    }
  }

  private StorageException wrap(String what, RocksDBException e) {
    return new StorageException("store at " + dir + ": " + what + " failed: " + e.getMessage(), e);
  }

  /**
   * Closes in dependency order: column-family handles, then the database (after a sync of the
   * WAL), then the options and the cache they reference. Idempotent.
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (ColumnFamilyHandle h : handles) {
      h.close();
    }
    try {
      db.syncWal();
    } catch (RocksDBException e) {
      // Every write was already synced; a failing final sync loses nothing.
    }
    db.close();
    syncWrites.close();
    bufferReads.close();
    closeOptions();
  }

  private void closeOptions() {
    for (ColumnFamilyOptions o : cfOptions) {
      o.close();
    }
    dbOptions.close();
    ingest.close();
    sstFiles.close();
    blockCache.close();
  }

  /** The changes of one write; valid only inside {@link LetheDb#write}. */
  public final class Batch {
    private final WriteBatch batch;

    private Batch(WriteBatch batch) {
      this.batch = batch;
    }

    public void put(Family family, byte[] key, byte[] value) {
      try {
        batch.put(families.get(family), key, value);
      } catch (RocksDBException e) {
        throw wrap("put to " + family.cfName(), e);
      }
    }

    public void delete(Family family, byte[] key) {
      try {
        batch.delete(families.get(family), key);
      } catch (RocksDBException e) {
        throw wrap("delete from " + family.cfName(), e);
      }
    }

    /** Deletes every key that starts with {@code prefix}. */
    public void deletePrefix(Family family, byte[] prefix) {
      try {
        batch.deleteRange(families.get(family), prefix, Keys.prefixEnd(prefix));
      } catch (RocksDBException e) {
        throw wrap("delete range from " + family.cfName(), e);
      }
    }

    /**
     * Replaces the blob under {@code prefix} with the {@code size} bytes of {@code data} (read
     * here, not closed), split into parts: the heap holds one part at a time.
     */
    public void putBlob(Family family, byte[] prefix, InputStream data, long size) {
      deletePrefix(family, prefix);
      long parts = Math.max(1, (size + BLOB_PART_BYTES - 1) / BLOB_PART_BYTES);
      for (int i = 0; i < parts; i++) {
        int n = (int) Math.min(BLOB_PART_BYTES, size - (long) i * BLOB_PART_BYTES);
        byte[] part;
        try {
          part = data.readNBytes(n);
        } catch (IOException e) {
          throw new StorageException("reading a blob for " + family.cfName(), e);
        }
        if (part.length != n) {
          throw new StorageException("a blob for " + family.cfName() + " ended after "
              + ((long) i * BLOB_PART_BYTES + part.length) + " of " + size + " bytes");
        }
        byte[] key = Keys.concat(prefix, java.nio.ByteBuffer.allocate(4).putInt(i).array());
        put(family, key, part);
      }
    }

    /** Replaces the blob under {@code prefix} with {@code data}, split into parts. */
    public void putBlob(Family family, byte[] prefix, byte[] data) {
      deletePrefix(family, prefix);
      int parts = Math.max(1, (data.length + BLOB_PART_BYTES - 1) / BLOB_PART_BYTES);
      for (int i = 0; i < parts; i++) {
        int from = i * BLOB_PART_BYTES;
        int to = Math.min(data.length, from + BLOB_PART_BYTES);
        byte[] key = Keys.concat(prefix, java.nio.ByteBuffer.allocate(4).putInt(i).array());
        put(family, key, java.util.Arrays.copyOfRange(data, from, to));
      }
    }
  }
}
