package dev.lethe.torch;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * A version's file composed from an archive ({@link TorchArchive#compose}): the original bytes
 * with byte ranges overwritten in place (parameter elements, and the CRC-32 fields of the entries
 * they change). Nothing moves: every entry keeps its offset and size, so the zip structure (and
 * PyTorch's 64-byte alignment of storages) is the original's. Streams in chunks of
 * {@value #CHUNK} bytes; the heap never holds the file.
 *
 * <p>Immutable; {@link #writeTo} and {@link #openStream} may be called any number of times and
 * from several threads (each stream is single-threaded). It reads the archive's source and the
 * caller's value buffer, which must not change while it is used.
 */
public final class ArchiveComposition {
  static final int CHUNK = 1 << 20;

  /** Bytes written at an absolute position of the file. */
  record Patch(long position, ByteBuffer bytes) {
    long end() {
      return position + bytes.remaining();
    }
  }

  private final ArchiveSource source;
  private final long size;
  private final List<Patch> patches;

  private ArchiveComposition(ArchiveSource source, long size, List<Patch> patches) {
    this.source = source;
    this.size = size;
    this.patches = patches;
  }

  /**
   * The composition of {@code source} with {@code byEntry}'s patches (each inside its entry's
   * stored data), plus the changed entries' new CRCs. Reads each changed entry once, here.
   */
  static ArchiveComposition of(ArchiveSource source, long size, Map<ZipDirectory.Entry, List<Patch>> byEntry) {
    List<Patch> all = new ArrayList<>();
    for (Map.Entry<ZipDirectory.Entry, List<Patch>> e : byEntry.entrySet()) {
      ZipDirectory.Entry entry = e.getKey();
      List<Patch> data = sorted(e.getValue());
      for (Patch p : data) {
        if (p.position() < entry.dataOffset() || p.end() > entry.dataOffset() + entry.size()) {
          throw new IllegalStateException("a patch lies outside entry " + entry.name());
        }
      }
      CRC32 crc = new CRC32();
      byte[] buf = new byte[(int) Math.min(CHUNK, Math.max(entry.size(), 1))];
      for (long at = entry.dataOffset(); at < entry.dataOffset() + entry.size(); ) {
        int n = (int) Math.min(buf.length, entry.dataOffset() + entry.size() - at);
        fill(source, data, at, buf, n);
        crc.update(buf, 0, n);
        at += n;
      }
      ByteBuffer value = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) crc.getValue()).flip();
      all.addAll(data);
      for (long crcAt : new long[] {entry.localCrcAt(), entry.descriptorCrcAt(), entry.centralCrcAt()}) {
        if (crcAt >= 0) {
          all.add(new Patch(crcAt, value.asReadOnlyBuffer()));
        }
      }
    }
    List<Patch> s = sorted(all);
    for (int i = 1; i < s.size(); i++) {
      if (s.get(i).position() < s.get(i - 1).end()) {
        throw new IllegalArgumentException("two replaced ranges overlap at byte " + s.get(i).position());
      }
    }
    return new ArchiveComposition(source, size, List.copyOf(s));
  }

  private static List<Patch> sorted(List<Patch> patches) {
    List<Patch> s = new ArrayList<>(patches);
    s.sort(Comparator.comparingLong(Patch::position));
    return s;
  }

  /**
   * Fills {@code buf[0, n)} with the composed bytes at {@code [at, at + n)}: the source's bytes
   * where no patch lies (only those ranges are read) and the patches' bytes where one does.
   */
  static void fill(ArchiveSource source, List<Patch> patches, long at, byte[] buf, int n) {
    long end = at + n;
    long cursor = at;
    int first = firstEndingAfter(patches, at);
    for (int i = first; i < patches.size() && patches.get(i).position() < end; i++) {
      Patch p = patches.get(i);
      if (p.position() > cursor) {
        source.read(cursor, ByteBuffer.wrap(buf, (int) (cursor - at), (int) (p.position() - cursor)));
      }
      long from = Math.max(p.position(), at);
      long to = Math.min(p.end(), end);
      p.bytes().get((int) (from - p.position()), buf, (int) (from - at), (int) (to - from));
      cursor = to;
    }
    if (cursor < end) {
      source.read(cursor, ByteBuffer.wrap(buf, (int) (cursor - at), (int) (end - cursor)));
    }
  }

  /** Index of the first patch ending after {@code at} (patches sorted, disjoint). */
  private static int firstEndingAfter(List<Patch> patches, long at) {
    int lo = 0;
    int hi = patches.size();
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (patches.get(mid).end() <= at) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  /** Size of the composed file in bytes (the original's). */
  public long size() {
    return size;
  }

  /** Writes the composed file to {@code out} (not closed). */
  public void writeTo(OutputStream out) throws IOException {
    byte[] buf = new byte[(int) Math.min(CHUNK, Math.max(size, 1))];
    for (long at = 0; at < size; ) {
      int n = (int) Math.min(buf.length, size - at);
      fill(source, patches, at, buf, n);
      out.write(buf, 0, n);
      at += n;
    }
  }

  /** The composed file as a stream (closing it releases nothing but its buffer). */
  public InputStream openStream() {
    return new InputStream() {
      private final byte[] buf = new byte[(int) Math.min(CHUNK, Math.max(size, 1))];
      private long bufStart;
      private int bufLen;
      private int bufPos;

      private boolean refill() {
        long next = bufStart + bufLen;
        if (next >= size) {
          return false;
        }
        bufStart = next;
        bufLen = (int) Math.min(buf.length, size - next);
        bufPos = 0;
        fill(source, patches, bufStart, buf, bufLen);
        return true;
      }

      @Override
      public int read() {
        if (bufPos == bufLen && !refill()) {
          return -1;
        }
        return buf[bufPos++] & 0xFF;
      }

      @Override
      public int read(byte[] b, int off, int len) {
        java.util.Objects.checkFromIndexSize(off, len, b.length);
        if (len == 0) {
          return 0;
        }
        if (bufPos == bufLen && !refill()) {
          return -1;
        }
        int n = Math.min(len, bufLen - bufPos);
        System.arraycopy(buf, bufPos, b, off, n);
        bufPos += n;
        return n;
      }

      @Override
      public int available() {
        return bufLen - bufPos;
      }
    };
  }
}
