package dev.lethe.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.CompressionType;
import org.rocksdb.EnvOptions;
import org.rocksdb.IngestExternalFileOptions;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.SstFileWriter;
import org.rocksdb.WriteOptions;

/**
 * Stores one blob through RocksDB's external file ingestion instead of a write batch: its parts
 * (keyed as {@link LetheDb.Batch#putBlob} keys them) are written into an SST file, which
 * {@code SstFileWriter.finish} syncs, and the file is moved into the column family. The bytes
 * are written once: no WAL record, no memtable copy, no later flush or compaction rewrite (a
 * file whose keys no other file covers goes to the bottom level). For the 46 MB weights of a
 * version this took 45–55 ms where the synced batch took 90–150 ms alone and up to 330 ms
 * beside the flushes its predecessors left (docs/fisher.md).
 *
 * <p>The file is written under {@code <db>/ingest} and is gone from there once ingested; files
 * left there by a crash are deleted when the store opens. Not atomic with any batch: the caller
 * makes the blob reachable by a later write, and until then it is debris that
 * {@code OrphanSweep} removes at the next start.
 *
 * <p>Owned by {@link LetheDb}, which closes it. Thread-safe: every call writes its own file.
 */
final class BlobIngest implements AutoCloseable {
  private final Path dir;
  private final EnvOptions env = new EnvOptions();
  // the values are float32 weights: block compression would cost CPU and save nothing
  private final Options sst = new Options().setCompressionType(CompressionType.NO_COMPRESSION);
  private final IngestExternalFileOptions ingest =
      new IngestExternalFileOptions().setMoveFiles(true);
  private final AtomicLong next = new AtomicLong();

  /** Opens {@code <dbDir>/ingest}, deleting what a crash left there. */
  BlobIngest(Path dbDir) throws IOException {
    dir = dbDir.resolve("ingest");
    Files.createDirectories(dir);
    try (DirectoryStream<Path> left = Files.newDirectoryStream(dir)) {
      for (Path p : left) {
        Files.deleteIfExists(p);
      }
    }
  }

  /**
   * Writes the bytes of {@code data} (position to limit; direct; neither changed) as parts of
   * at most {@code partBytes} under {@code prefix} into an SST file and ingests it into
   * {@code cf}. A blob already there (left by a commit that failed) is deleted first, by a
   * synced range deletion: the ingested parts would hide its parts but not the ones past them.
   */
  void ingest(RocksDB db, ColumnFamilyHandle cf, WriteOptions sync, byte[] prefix,
      ByteBuffer data, int partBytes) throws RocksDBException, IOException {
    try (RocksIterator it = db.newIterator(cf)) {
      it.seek(prefix);
      if (it.isValid() && Keys.startsWith(it.key(), prefix)) {
        db.deleteRange(cf, sync, prefix, Keys.prefixEnd(prefix));
      }
    }
    Path file = dir.resolve(next.incrementAndGet() + ".sst");
    ByteBuffer key = ByteBuffer.allocateDirect(prefix.length + Integer.BYTES);
    try {
      try (SstFileWriter writer = new SstFileWriter(env, sst)) {
        writer.open(file.toString());
        int parts = Math.max(1, (data.remaining() + partBytes - 1) / partBytes);
        for (int i = 0; i < parts; i++) {
          int from = data.position() + i * partBytes;
          key.clear().put(prefix).putInt(i).flip();
          writer.put(key, data.duplicate().position(from)
              .limit(Math.min(data.limit(), from + partBytes)));
        }
        writer.finish();
      }
      db.ingestExternalFile(cf, List.of(file.toString()), ingest);
    } finally {
      dev.lethe.core.Memory.free(key);
      Files.deleteIfExists(file);
    }
  }

  @Override
  public void close() {
    ingest.close();
    sst.close();
    env.close();
  }
}
