package dev.lethe.torch;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Writes a TorchScript-shaped archive of any size without torch: module {@code __torch__.Big}
 * with float32 parameters {@code small} [smallN] and {@code big} [bigN] in storages '0' and '1'
 * (stored, as torch writes them), its data.pkl written opcode by opcode in the form TorchScript's
 * pickler uses, and a code file listing {@code __parameters__}. Element i of a parameter is
 * {@link #value}(i), so a reader can check any element without holding the file.
 */
final class SyntheticArchive {
  private SyntheticArchive() {}

  static float value(long i) {
    return (i % 1000) * 0.001f - 0.5f;
  }

  static void write(Path file, long smallN, long bigN) throws IOException {
    try (OutputStream f = Files.newOutputStream(file); ZipOutputStream z = new ZipOutputStream(f)) {
      z.setLevel(1);
      z.putNextEntry(new ZipEntry("big/data.pkl"));
      z.write(pickle(smallN, bigN));
      z.closeEntry();
      z.putNextEntry(new ZipEntry("big/code/__torch__.py"));
      z.write(("class Big(Module):\n  __parameters__ = [\"small\", \"big\", ]\n  __buffers__ = []\n"
          + "  small : Tensor\n  big : Tensor\n  training : bool\n").getBytes(StandardCharsets.UTF_8));
      z.closeEntry();
      storage(z, "big/data/0", smallN);
      storage(z, "big/data/1", bigN);
      z.putNextEntry(new ZipEntry("big/version"));
      z.write("3\n".getBytes(StandardCharsets.US_ASCII));
      z.closeEntry();
    }
  }

  private static void storage(ZipOutputStream z, String name, long n) throws IOException {
    CRC32 crc = new CRC32();
    ByteBuffer chunk = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
    for (long i = 0; i < n; ) {
      i = fill(chunk, i, n);
      crc.update(chunk.array(), 0, chunk.limit());
    }
    ZipEntry e = new ZipEntry(name);
    e.setMethod(ZipEntry.STORED);
    e.setSize(n * 4);
    e.setCrc(crc.getValue());
    z.putNextEntry(e);
    for (long i = 0; i < n; ) {
      i = fill(chunk, i, n);
      z.write(chunk.array(), 0, chunk.limit());
    }
    z.closeEntry();
  }

  private static long fill(ByteBuffer chunk, long from, long n) {
    chunk.clear();
    long i = from;
    while (i < n && chunk.remaining() >= 4) {
      chunk.putFloat(value(i++));
    }
    chunk.flip();
    return i;
  }

  /** {@code Big(training=False, small=tensor(storage 0), big=tensor(storage 1))}, protocol 2. */
  static byte[] pickle(long smallN, long bigN) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.write(0x80);
    b.write(2);
    global(b, "__torch__", "Big");
    b.write(')');
    b.write(0x81); // NEWOBJ
    b.write('}');
    b.write('(');
    string(b, "training");
    b.write(0x89);
    tensor(b, "small", "0", smallN);
    tensor(b, "big", "1", bigN);
    b.write('u');
    b.write('b');
    b.write('.');
    return b.toByteArray();
  }

  private static void tensor(ByteArrayOutputStream b, String attr, String key, long n) {
    string(b, attr);
    global(b, "torch._utils", "_rebuild_tensor_v2");
    b.write('(');
    b.write('(');
    string(b, "storage");
    global(b, "torch", "FloatStorage");
    string(b, key);
    string(b, "cpu");
    binint(b, n);
    b.write('t');
    b.write('Q'); // BINPERSID
    binint(b, 0);
    b.write('(');
    binint(b, n);
    b.write('t');
    b.write('(');
    binint(b, 1);
    b.write('t');
    b.write(0x88);
    global(b, "collections", "OrderedDict");
    b.write(')');
    b.write('R');
    b.write('t');
    b.write('R');
  }

  private static void global(ByteArrayOutputStream b, String module, String name) {
    b.write('c');
    b.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
  }

  private static void string(ByteArrayOutputStream b, String s) {
    byte[] u = s.getBytes(StandardCharsets.UTF_8);
    b.write('X');
    b.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(u.length).array());
    b.writeBytes(u);
  }

  private static void binint(ByteArrayOutputStream b, long v) {
    b.write('J');
    b.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(Math.toIntExact(v)).array());
  }
}
