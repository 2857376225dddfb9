package dev.lethe.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 96 MiB archive is read and composed from its file by a JVM with a 32 MiB heap (so neither
 * the archive nor the composed file is ever on the heap); the composed file differs only in the
 * replaced parameter and its CRCs, and every entry's CRC is valid.
 */
class BigArchiveTest {
  static final long SMALL = 1000;
  static final long BIG = 24L << 20; // 96 MiB of float32, three times the child's heap

  @Test
  void aLargeArchiveStreamsThroughASmallHeap(@TempDir Path dir) throws Exception {
    Path in = dir.resolve("big.pt");
    Path out = dir.resolve("big_v2.pt");
    SyntheticArchive.write(in, SMALL, BIG);
    TorchArchive a = TorchArchive.read(in);
    assertEquals(List.of("small", "big"), a.parameters().stream().map(TorchTensor::name).toList());

    Path argfile = dir.resolve("classpath.args");
    Files.writeString(argfile, "-cp \"" + System.getProperty("java.class.path") + "\"\n");
    Path log = dir.resolve("child.log");
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx32m", "-XX:+UseSerialGC", "@" + argfile, BigArchiveCompose.class.getName(), in.toString(), out.toString())
        .redirectErrorStream(true).redirectOutput(log.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    assertTrue(p.waitFor(300, TimeUnit.SECONDS), "the child did not finish");
    String said = Files.readString(log, StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), said);
    assertTrue(said.contains("composed " + Files.size(in) + " bytes"), said);

    TorchArchive b = TorchArchive.read(out);
    float[] want = new float[(int) SMALL];
    for (int i = 0; i < want.length; i++) {
      want[i] = SyntheticArchive.value(i) + 1;
    }
    assertArrayEquals(want, b.floats("small"));
    assertEquals(Files.size(in), Files.size(out));
    long differing = 0;
    try (InputStream x = Files.newInputStream(in); InputStream y = Files.newInputStream(out)) {
      byte[] bx = new byte[1 << 20];
      byte[] by = new byte[1 << 20];
      for (int n; (n = x.readNBytes(bx, 0, bx.length)) > 0; ) {
        assertEquals(n, y.readNBytes(by, 0, n));
        for (int i = 0; i < n; i++) {
          differing += bx[i] != by[i] ? 1 : 0;
        }
      }
    }
    assertTrue(differing > 0 && differing <= SMALL * 4 + 12, differing + " bytes differ");
    try (ZipFile z = new ZipFile(out.toFile())) {
      for (ZipEntry e : java.util.Collections.list(z.entries())) {
        CRC32 crc = new CRC32();
        try (InputStream s = z.getInputStream(e)) {
          byte[] buf = new byte[1 << 20];
          for (int n; (n = s.read(buf)) > 0; ) {
            crc.update(buf, 0, n);
          }
        }
        assertEquals(e.getCrc(), crc.getValue(), e.getName());
      }
    }
  }
}
