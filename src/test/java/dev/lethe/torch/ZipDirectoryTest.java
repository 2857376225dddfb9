package dev.lethe.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;

/** The zip reader on archives torch does not write in the tests' sizes: ZIP64 and stored entries. */
class ZipDirectoryTest {
  @Test
  void zip64EndRecordIsRead() throws IOException {
    // java.util.zip writes a ZIP64 end record past 65535 entries
    int n = 65_600;
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (ZipOutputStream z = new ZipOutputStream(b)) {
      z.setLevel(0);
      for (int i = 0; i < n; i++) {
        z.putNextEntry(new ZipEntry("r/" + i));
        z.write(Integer.toString(i).getBytes(StandardCharsets.US_ASCII));
        z.closeEntry();
      }
    }
    byte[] zip = b.toByteArray();
    ZipDirectory d = ZipDirectory.read(ArchiveSource.ofBytes(zip), ArchiveLimits.defaults());
    assertEquals(n, d.entries().size());
    ZipDirectory.Entry last = d.entries().get("r/" + (n - 1));
    assertArrayEquals(Integer.toString(n - 1).getBytes(StandardCharsets.US_ASCII),
        d.content(ArchiveSource.ofBytes(zip), last, 100));
  }

  @Test
  void storedEntriesWithoutDescriptorsHaveTheirCrcInTheLocalHeader() throws IOException {
    byte[] data = "stored bytes".getBytes(StandardCharsets.US_ASCII);
    CRC32 crc = new CRC32();
    crc.update(data);
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (ZipOutputStream z = new ZipOutputStream(b)) {
      ZipEntry e = new ZipEntry("r/s");
      e.setMethod(ZipEntry.STORED);
      e.setSize(data.length);
      e.setCrc(crc.getValue());
      z.putNextEntry(e);
      z.write(data);
      z.closeEntry();
    }
    ZipDirectory.Entry e = ZipDirectory.read(ArchiveSource.ofBytes(b.toByteArray()), ArchiveLimits.defaults())
        .entries().get("r/s");
    assertEquals(14, e.localCrcAt());
    assertEquals(-1, e.descriptorCrcAt());
    assertEquals(crc.getValue(), e.crc());
    assertTrue(e.centralCrcAt() > e.end());
  }
}
