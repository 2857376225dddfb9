package dev.lethe.torch;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The entries of a zip file as its central directory lists them, each checked against its local
 * header: where its data lies, where its CRC-32 is written (local header, data descriptor,
 * central directory record), and that no two entries' bytes overlap (the overlapping-entries zip
 * bomb). ZIP64 sizes and offsets are read; encrypted entries, multi-disk archives and compression
 * methods other than stored (0) and deflate (8) are refused. Every refusal is a
 * {@link dev.lethe.core.LetheException} INVALID_ARGUMENT naming {@link TorchArchive#FIELD}.
 *
 * <p>Immutable after {@link #read}; thread-safe.
 */
final class ZipDirectory {
  static final int LOCAL = 0x04034b50;
  static final int CENTRAL = 0x02014b50;
  static final int END = 0x06054b50;
  static final int END64 = 0x06064b50;
  static final int END64_LOCATOR = 0x07064b50;
  static final int DESCRIPTOR = 0x08074b50;
  static final long U32 = 0xFFFFFFFFL;

  /**
   * One entry. Offsets are absolute positions in the file. {@code localCrcAt} is where the local
   * header's CRC-32 lies ({@code -1} when that field is zero, the value deferred to the data
   * descriptor); {@code descriptorCrcAt} the data descriptor's ({@code -1} for none);
   * {@code centralCrcAt} the central directory record's.
   */
  record Entry(String name, int method, long crc, long compressedSize, long size, long headerOffset,
      long dataOffset, long end, long localCrcAt, long descriptorCrcAt, long centralCrcAt) {}

  private final long size;
  private final Map<String, Entry> entries;

  private ZipDirectory(long size, Map<String, Entry> entries) {
    this.size = size;
    this.entries = entries;
  }

  /** Entries by name, in central directory order. */
  Map<String, Entry> entries() {
    return entries;
  }

  long size() {
    return size;
  }

  static ZipDirectory read(ArchiveSource src, ArchiveLimits limits) {
    long size = src.size();
    if (size < 22) {
      throw TorchArchive.refuse(notZip(src, size));
    }
    int tailLen = (int) Math.min(size, 22 + 65535);
    ByteBuffer tail = bytes(src, size - tailLen, tailLen);
    int eocd = -1;
    for (int p = tailLen - 22; p >= 0; p--) {
      if (tail.getInt(p) == END && p + 22 + (tail.getShort(p + 20) & 0xFFFF) == tailLen) {
        eocd = p;
        break;
      }
    }
    if (eocd < 0) {
      throw TorchArchive.refuse(notZip(src, size));
    }
    long eocdPos = size - tailLen + eocd;
    int disk = tail.getShort(eocd + 4) & 0xFFFF;
    int cdDisk = tail.getShort(eocd + 6) & 0xFFFF;
    long count = tail.getShort(eocd + 10) & 0xFFFF;
    long cdSize = tail.getInt(eocd + 12) & U32;
    long cdOffset = tail.getInt(eocd + 16) & U32;
    if (count == 0xFFFF || cdSize == U32 || cdOffset == U32) {
      if (eocdPos < 20 || bytes(src, eocdPos - 20, 4).getInt(0) != END64_LOCATOR) {
        throw TorchArchive.refuse("corrupt zip: a ZIP64 end record is announced but missing");
      }
      long end64 = bytes(src, eocdPos - 20 + 8, 8).getLong(0);
      if (end64 < 0 || end64 + 56 > eocdPos) {
        throw TorchArchive.refuse("corrupt zip: the ZIP64 end record lies outside the file");
      }
      ByteBuffer z = bytes(src, end64, 56);
      if (z.getInt(0) != END64) {
        throw TorchArchive.refuse("corrupt zip: no ZIP64 end record at " + end64);
      }
      disk = z.getInt(16);
      cdDisk = z.getInt(20);
      count = z.getLong(32);
      cdSize = z.getLong(40);
      cdOffset = z.getLong(48);
    }
    if (disk != 0 || cdDisk != 0) {
      throw TorchArchive.refuse("multi-disk zip archives are not supported");
    }
    if (count < 0 || count > limits.maxEntries()) {
      throw TorchArchive.refuse("the zip lists " + Long.toUnsignedString(count) + " entries; at most "
          + limits.maxEntries() + " are accepted");
    }
    if (cdSize < 0 || cdSize > limits.maxCentralDirectoryBytes()) {
      throw TorchArchive.refuse("the zip's central directory is " + Long.toUnsignedString(cdSize)
          + " bytes; at most " + limits.maxCentralDirectoryBytes() + " are accepted");
    }
    if (cdOffset < 0 || cdOffset + cdSize > eocdPos) {
      throw TorchArchive.refuse("corrupt zip: the central directory lies outside the file");
    }
    ByteBuffer cd = bytes(src, cdOffset, (int) cdSize);
    Map<String, Entry> entries = new LinkedHashMap<>();
    int p = 0;
    for (long i = 0; i < count; i++) {
      if (p + 46 > cdSize || cd.getInt(p) != CENTRAL) {
        throw TorchArchive.refuse("corrupt zip: central directory record " + i + " is malformed");
      }
      Entry e = entry(src, size, cd, p, cdOffset + p);
      if (entries.putIfAbsent(e.name(), e) != null) {
        throw TorchArchive.refuse("the zip holds two entries named '" + e.name() + "'");
      }
      p += 46 + (cd.getShort(p + 28) & 0xFFFF) + (cd.getShort(p + 30) & 0xFFFF) + (cd.getShort(p + 32) & 0xFFFF);
    }
    List<Entry> byOffset = new ArrayList<>(entries.values());
    byOffset.sort(Comparator.comparingLong(Entry::headerOffset));
    for (int k = 0; k < byOffset.size(); k++) {
      Entry e = byOffset.get(k);
      long next = k + 1 < byOffset.size() ? byOffset.get(k + 1).headerOffset() : cdOffset;
      if (e.end() > next) {
        throw TorchArchive.refuse("corrupt zip: entry '" + e.name() + "' overlaps the bytes of "
            + (k + 1 < byOffset.size() ? "entry '" + byOffset.get(k + 1).name() + "'" : "the central directory"));
      }
    }
    return new ZipDirectory(size, entries);
  }

  private static Entry entry(ArchiveSource src, long fileSize, ByteBuffer cd, int p, long recordAt) {
    int flags = cd.getShort(p + 8) & 0xFFFF;
    int method = cd.getShort(p + 10) & 0xFFFF;
    long crc = cd.getInt(p + 16) & U32;
    long csize = cd.getInt(p + 20) & U32;
    long usize = cd.getInt(p + 24) & U32;
    int nameLen = cd.getShort(p + 28) & 0xFFFF;
    int extraLen = cd.getShort(p + 30) & 0xFFFF;
    int diskStart = cd.getShort(p + 34) & 0xFFFF;
    long lho = cd.getInt(p + 42) & U32;
    if (p + 46 + nameLen + extraLen > cd.limit()) {
      throw TorchArchive.refuse("corrupt zip: a central directory record runs past the directory");
    }
    String name = string(cd, p + 46, nameLen);
    // ZIP64 extended information: only the fields whose 32-bit value is saturated, in this order
    int x = p + 46 + nameLen;
    int xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      int id = cd.getShort(x) & 0xFFFF;
      int len = cd.getShort(x + 2) & 0xFFFF;
      if (id == 0x0001) {
        int q = x + 4;
        int qEnd = Math.min(q + len, xEnd);
        if (usize == U32 && q + 8 <= qEnd) {
          usize = cd.getLong(q);
          q += 8;
        }
        if (csize == U32 && q + 8 <= qEnd) {
          csize = cd.getLong(q);
          q += 8;
        }
        if (lho == U32 && q + 8 <= qEnd) {
          lho = cd.getLong(q);
          q += 8;
        }
        if (diskStart == 0xFFFF && q + 4 <= qEnd) {
          diskStart = cd.getInt(q);
        }
      }
      x += 4 + len;
    }
    if ((flags & 1) != 0) {
      throw TorchArchive.refuse("zip entry '" + name + "' is encrypted");
    }
    if (method != 0 && method != 8) {
      throw TorchArchive.refuse("zip entry '" + name + "' uses compression method " + method
          + "; only stored (0) and deflate (8) are read");
    }
    if (diskStart != 0 || usize < 0 || csize < 0 || lho < 0 || lho + 30 > fileSize) {
      throw TorchArchive.refuse("corrupt zip: entry '" + name + "' has an impossible size or offset");
    }
    if (method == 0 && csize != usize) {
      throw TorchArchive.refuse("corrupt zip: stored entry '" + name + "' declares " + usize
          + " bytes but holds " + csize);
    }
    ByteBuffer local = bytes(src, lho, 30);
    if (local.getInt(0) != LOCAL) {
      throw TorchArchive.refuse("corrupt zip: no local header for entry '" + name + "' at " + lho);
    }
    int localNameLen = local.getShort(26) & 0xFFFF;
    int localExtraLen = local.getShort(28) & 0xFFFF;
    if (lho + 30 + localNameLen + localExtraLen > fileSize) {
      throw TorchArchive.refuse("corrupt zip: the local header of entry '" + name + "' runs past the end of the file");
    }
    ByteBuffer localTail = bytes(src, lho + 30, localNameLen + localExtraLen);
    if (!string(localTail, 0, localNameLen).equals(name) || (local.getShort(8) & 0xFFFF) != method) {
      throw TorchArchive.refuse("corrupt zip: the local header of entry '" + name + "' disagrees with the central directory");
    }
    boolean zip64 = usize >= U32 || csize >= U32;
    for (int q = localNameLen; q + 4 <= localNameLen + localExtraLen; ) {
      int id = localTail.getShort(q) & 0xFFFF;
      zip64 |= id == 0x0001;
      q += 4 + (localTail.getShort(q + 2) & 0xFFFF);
    }
    long data = lho + 30 + localNameLen + localExtraLen;
    long end = data + csize;
    if (end > fileSize || end < data) {
      throw TorchArchive.refuse("corrupt zip: the data of entry '" + name + "' runs past the end of the file");
    }
    long localCrc = local.getInt(14) & U32;
    boolean deferred = (local.getShort(6) & 8) != 0;
    // with a data descriptor the local field may be zero (the value deferred); without one it is the CRC
    long localCrcAt = deferred && localCrc == 0 ? -1 : lho + 14;
    if (localCrcAt >= 0 && localCrc != crc) {
      throw TorchArchive.refuse("corrupt zip: entry '" + name + "' has two different CRCs");
    }
    long descriptorCrcAt = -1;
    if (deferred) {
      int sizes = zip64 ? 16 : 8;
      int max = (int) Math.min(4 + 4 + sizes, fileSize - end);
      ByteBuffer d = bytes(src, end, Math.max(max, 0));
      int off = d.limit() >= 4 && d.getInt(0) == DESCRIPTOR ? 4 : 0;
      if (d.limit() < off + 4 + sizes) {
        throw TorchArchive.refuse("corrupt zip: the data descriptor of entry '" + name + "' is cut off");
      }
      if ((d.getInt(off) & U32) != crc) {
        throw TorchArchive.refuse("corrupt zip: entry '" + name + "' has two different CRCs");
      }
      descriptorCrcAt = end + off;
      end += off + 4 + sizes;
    }
    return new Entry(name, method, crc, csize, usize, lho, data, end, localCrcAt, descriptorCrcAt, recordAt + 16);
  }

  /**
   * The inflated content of a metadata entry, its CRC checked; refused when its declared size is
   * over {@code limit} or it inflates past what it declares.
   */
  byte[] content(ArchiveSource src, Entry e, long limit) {
    if (e.size() > limit) {
      throw TorchArchive.refuse("zip entry '" + e.name() + "' declares " + e.size() + " bytes; at most "
          + limit + " are read for an archive's metadata");
    }
    byte[] out = new byte[(int) e.size()];
    if (e.method() == 0) {
      src.read(e.dataOffset(), ByteBuffer.wrap(out));
    } else {
      inflate(src, e, out);
    }
    CRC32 crc = new CRC32();
    crc.update(out);
    if (crc.getValue() != e.crc()) {
      throw TorchArchive.refuse("corrupt zip: entry '" + e.name() + "' fails its CRC-32 check");
    }
    return out;
  }

  private static void inflate(ArchiveSource src, Entry e, byte[] out) {
    Inflater inf = new Inflater(true);
    try {
      byte[] in = new byte[64 << 10];
      byte[] probe = new byte[1];
      long read = 0;
      int n = 0;
      while (!inf.finished() && !inf.needsDictionary()) {
        if (inf.needsInput()) {
          if (read >= e.compressedSize()) {
            break;
          }
          int len = (int) Math.min(in.length, e.compressedSize() - read);
          src.read(e.dataOffset() + read, ByteBuffer.wrap(in, 0, len));
          read += len;
          inf.setInput(in, 0, len);
        }
        if (n == out.length) {
          // full: anything beyond the declared size is a lie (a zip bomb)
          if (inf.inflate(probe) > 0) {
            throw TorchArchive.refuse("zip entry '" + e.name() + "' inflates to more than the "
                + e.size() + " bytes it declares");
          }
        } else {
          n += inf.inflate(out, n, out.length - n);
        }
      }
      if (n < out.length) {
        throw TorchArchive.refuse("corrupt zip: entry '" + e.name() + "' inflates to " + n + " of the "
            + e.size() + " bytes it declares");
      }
    } catch (DataFormatException ex) {
      throw TorchArchive.refuse("corrupt zip: entry '" + e.name() + "' is not valid deflate data");
    } finally {
      inf.end();
    }
  }

  static ByteBuffer bytes(ArchiveSource src, long at, int len) {
    ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
    src.read(at, b);
    return b.flip().order(ByteOrder.LITTLE_ENDIAN);
  }

  private static String string(ByteBuffer b, int at, int len) {
    byte[] s = new byte[len];
    b.get(at, s);
    return new String(s, StandardCharsets.UTF_8);
  }

  private static String notZip(ArchiveSource src, long size) {
    if (size == 0) {
      return "not a TorchScript archive: the file is empty";
    }
    ByteBuffer head = bytes(src, 0, (int) Math.min(size, 2));
    int b0 = head.get(0) & 0xFF;
    if (b0 == 0x80) {
      return "not a TorchScript archive: a bare pickle (the legacy torch.save format), not a zip; "
          + "save the module with torch.jit.save";
    }
    if (b0 == 0x08) {
      return "not a TorchScript archive: this looks like an ONNX model (a protobuf, not a zip); "
          + "register it with format ONNX";
    }
    return "not a TorchScript archive: not a zip file";
  }
}
