package dev.lethe.storage;

import java.io.InputStream;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

/**
 * Streams the parts of one blob (consecutive keys under a prefix) from an iterator. Owns the
 * iterator and the snapshot release action; not thread-safe.
 */
final class BlobInputStream extends InputStream {
  private final RocksIterator it;
  private final byte[] prefix;
  private final Runnable release;
  private byte[] part;
  private int pos;
  private boolean closed;

  BlobInputStream(RocksIterator it, byte[] prefix, Runnable release) {
    this.it = it;
    this.prefix = prefix;
    this.release = release;
    this.part = it.value();
  }

  private boolean advance() {
    while (part != null && pos == part.length) {
      it.next();
      if (!it.isValid() || !Keys.startsWith(it.key(), prefix)) {
        try {
          it.status();
        } catch (RocksDBException e) {
          throw new StorageException("reading blob failed: " + e.getMessage(), e);
        }
        part = null;
      } else {
        part = it.value();
        pos = 0;
      }
    }
    return part != null;
  }

  @Override
  public int read() {
    if (!advance()) {
      return -1;
    }
    return part[pos++] & 0xFF;
  }

  @Override
  public int read(byte[] b, int off, int len) {
    if (len == 0) {
      return 0;
    }
    if (!advance()) {
      return -1;
    }
    int n = Math.min(len, part.length - pos);
    System.arraycopy(part, pos, b, off, n);
    pos += n;
    return n;
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      it.close();
      release.run();
    }
  }
}
