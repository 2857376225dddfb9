package dev.lethe.torch;

import static dev.lethe.torch.TorchArchiveTest.assertInvalid;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Predicate;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;

/**
 * What {@link TorchArchive#read} refuses, each with INVALID_ARGUMENT naming the upload field and
 * the exact message a user sees.
 */
class TorchArchiveRefusalTest {
  static final String F = TorchArchive.FIELD + ": ";

  @Test
  void looksLikeTorchScriptReadsOnlyTheDirectory() {
    assertTrue(TorchArchive.looksLikeTorchScript(ArchiveSource.ofFile(TorchScriptFixtures.path("mlp.pt"))));
    assertTrue(TorchArchive.looksLikeTorchScript(ArchiveSource.ofFile(TorchScriptFixtures.path("overlap.pt"))),
        "a refused archive is still TorchScript");
    assertFalse(TorchArchive.looksLikeTorchScript(ArchiveSource.ofBytes(TorchScriptFixtures.bytes("mlp.onnx"))));
    assertFalse(TorchArchive.looksLikeTorchScript(ArchiveSource.ofFile(TorchScriptFixtures.path("state_dict.pth"))));
    assertFalse(TorchArchive.looksLikeTorchScript(ArchiveSource.ofBytes(new byte[0])));
  }

  @Test
  void notAZip() {
    assertInvalid(F + "not a TorchScript archive: not a zip file",
        () -> TorchArchive.read("just some text, long enough to be searched for a zip end".getBytes(StandardCharsets.UTF_8)));
    assertInvalid(F + "not a TorchScript archive: the file is empty", () -> TorchArchive.read(new byte[0]));
    byte[] mlp = TorchScriptFixtures.bytes("mlp.pt");
    assertInvalid(F + "not a TorchScript archive: not a zip file",
        () -> TorchArchive.read(Arrays.copyOf(mlp, mlp.length - 30))); // truncated
  }

  @Test
  void anOnnxFileIsNamed() {
    assertInvalid(F + "not a TorchScript archive: this looks like an ONNX model (a protobuf, not a zip); "
        + "register it with format ONNX", () -> TorchArchive.read(TorchScriptFixtures.bytes("mlp.onnx")));
  }

  @Test
  void aLegacyPickleIsNamed() {
    byte[] legacy = new byte[64];
    legacy[0] = (byte) 0x80;
    legacy[1] = 2;
    assertInvalid(F + "not a TorchScript archive: a bare pickle (the legacy torch.save format), not a zip; save "
        + "the module with torch.jit.save", () -> TorchArchive.read(legacy));
  }

  @Test
  void aTorchSaveStateDictIsNamed() {
    assertInvalid(F + "not a TorchScript archive: state_dict/data.pkl without state_dict/code/ is a torch.save "
        + "pickle (a state_dict or an eager module), not a TorchScript module; save it with "
        + "torch.jit.save(torch.jit.script(model)) or torch.jit.trace",
        () -> TorchArchive.read(TorchScriptFixtures.path("state_dict.pth")));
  }

  @Test
  void aZipWithoutDataPkl() throws IOException {
    byte[] zip = zip(new String[] {"m/version", "3\n"}, new String[] {"m/code/__torch__.py", "class M(Module):\n"});
    assertInvalid(F + "not a TorchScript archive: a zip without <root>/data.pkl", () -> TorchArchive.read(zip));
  }

  @Test
  void aPickleOutsideTorchScriptsSubset() throws IOException {
    byte[] zip = zip(new String[] {"m/data.pkl", "\u0080\u0002I42\n."}, new String[] {"m/code/__torch__.py", ""});
    assertInvalid(F + "m/data.pkl uses pickle opcode 0x49 at byte 2, which TorchScript does not write",
        () -> TorchArchive.read(zip));
  }

  @Test
  void aBigEndianArchive() throws IOException {
    byte[] zip = zip(new String[] {"m/data.pkl", "\u0080\u0002N."}, new String[] {"m/code/__torch__.py", ""},
        new String[] {"m/byteorder", "big"});
    assertInvalid(F + "the archive's storages are big-endian (m/byteorder); Lethe reads little-endian archives only",
        () -> TorchArchive.read(zip));
  }

  @Test
  void overlappingParameterViews() {
    assertInvalid(F + "parameter 'a.weight' shares elements of storage '0' with parameter 'b.weight' (a different "
        + "view): replacing one would change the other; save the module with separate (cloned) tensors",
        () -> TorchArchive.read(TorchScriptFixtures.path("overlap.pt")));
  }

  @Test
  void nonContiguousParameter() {
    assertInvalid(F + "parameter 'fc.weight' is not contiguous (dims [4, 3], strides [1, 4]); Lethe replaces "
        + "parameters as whole row-major blocks: make it contiguous before saving (param.data = "
        + "param.data.contiguous())", () -> TorchArchive.read(TorchScriptFixtures.path("transposed.pt")));
  }

  @Test
  void metadataOverTheLimitIsNotInflated() throws IOException {
    byte[] zip = zip(new String[] {"m/data.pkl", "\u0080\u0002N."},
        new String[] {"m/code/__torch__.py", " ".repeat(2 << 20)});
    ArchiveLimits small = new ArchiveLimits(100, 1 << 20, 1 << 20, 4 << 20, 16);
    assertInvalid(F + "zip entry 'm/code/__torch__.py' declares 2097152 bytes; at most 1048576 are read for an "
        + "archive's metadata", () -> TorchArchive.read(ArchiveSource.ofBytes(zip), small));
  }

  @Test
  void anEntryInflatingPastItsDeclaredSizeIsABomb() throws IOException {
    byte[] zip = zip(new String[] {"m/data.pkl", "\u0080\u0002N."},
        new String[] {"m/code/__torch__.py", " ".repeat(100_000)});
    patchCentralSize(zip, "m/code/__torch__.py", 1000);
    assertInvalid(F + "zip entry 'm/code/__torch__.py' inflates to more than the 1000 bytes it declares",
        () -> TorchArchive.read(zip));
  }

  @Test
  void twoEntriesSharingOneLocalHeader() throws IOException {
    byte[] zip = zip(new String[] {"m/data.pkl", "\u0080\u0002N."}, new String[] {"m/code/__torch__.py", "x"});
    int first = central(zip, "m/data.pkl");
    int second = central(zip, "m/code/__torch__.py");
    System.arraycopy(zip, first + 42, zip, second + 42, 4); // the second entry's local header offset
    assertInvalid(F + "corrupt zip: the local header of entry 'm/code/__torch__.py' disagrees with the central "
        + "directory", () -> TorchArchive.read(zip));
  }

  @Test
  void tooManyEntries() throws IOException {
    byte[] zip = zip(new String[] {"m/data.pkl", "x"}, new String[] {"m/a", "x"}, new String[] {"m/b", "x"});
    assertInvalid(F + "the zip lists 3 entries; at most 2 are accepted",
        () -> TorchArchive.read(ArchiveSource.ofBytes(zip), new ArchiveLimits(2, 1 << 20, 1 << 20, 1 << 20, 8)));
  }

  @Test
  void aCorruptDataPkl() {
    byte[] mlp = TorchScriptFixtures.bytes("mlp.pt");
    int at = indexOf(mlp, "__torch__".getBytes(StandardCharsets.UTF_8)); // data.pkl's first GLOBAL, stored
    mlp[at] ^= 1;
    assertInvalid(F + "corrupt zip: entry 'mlp/data.pkl' fails its CRC-32 check", () -> TorchArchive.read(mlp));
  }

  @Test
  void aMissingStorage() throws IOException {
    byte[] rezipped = rezip(TorchScriptFixtures.path("mlp.pt"), n -> !n.equals("mlp/data/0"));
    assertInvalid(F + "storage '0' has no entry mlp/data/0", () -> TorchArchive.read(rezipped));
  }

  @Test
  void aCompressedParameterStorage() throws IOException {
    byte[] rezipped = rezip(TorchScriptFixtures.path("mlp.pt"), n -> true);
    assertInvalid(F + "the storage of parameter 'fc1.weight' is compressed in the zip; torch.jit.save stores "
        + "storages uncompressed (re-save the module with torch.jit.save)", () -> TorchArchive.read(rezipped));
  }

  /** A zip of (name, latin-1 content) pairs, every entry deflated (with data descriptors). */
  static byte[] zip(String[]... entries) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (ZipOutputStream z = new ZipOutputStream(b)) {
      for (String[] e : entries) {
        z.putNextEntry(new ZipEntry(e[0]));
        z.write(e[1].getBytes(StandardCharsets.ISO_8859_1));
        z.closeEntry();
      }
    }
    return b.toByteArray();
  }

  /** The archive's entries that {@code keep} accepts, re-zipped by java.util.zip (all deflated). */
  static byte[] rezip(Path archive, Predicate<String> keep) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (ZipOutputStream out = new ZipOutputStream(b); ZipFile in = new ZipFile(archive.toFile())) {
      for (ZipEntry e : java.util.Collections.list(in.entries())) {
        byte[] data;
        try (java.io.InputStream s = in.getInputStream(e)) {
          data = s.readAllBytes();
        }
        if (keep.test(e.getName())) {
          out.putNextEntry(new ZipEntry(e.getName()));
          out.write(data);
          out.closeEntry();
        }
      }
    }
    return b.toByteArray();
  }

  private static void patchCentralSize(byte[] zip, String name, int size) {
    int at = central(zip, name);
    zip[at + 24] = (byte) size;
    zip[at + 25] = (byte) (size >> 8);
    zip[at + 26] = (byte) (size >> 16);
    zip[at + 27] = (byte) (size >> 24);
  }

  /** Offset of the central directory record of {@code name}. */
  private static int central(byte[] zip, String name) {
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i + 46 + n.length <= zip.length; i++) {
      if (zip[i] == 0x50 && zip[i + 1] == 0x4b && zip[i + 2] == 1 && zip[i + 3] == 2
          && Arrays.equals(Arrays.copyOfRange(zip, i + 46, i + 46 + n.length), n)) {
        return i;
      }
    }
    throw new IllegalArgumentException("no central record for " + name);
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    for (int i = 0; i + needle.length <= hay.length; i++) {
      if (Arrays.equals(Arrays.copyOfRange(hay, i, i + needle.length), needle)) {
        return i;
      }
    }
    throw new IllegalArgumentException("not found");
  }
}
