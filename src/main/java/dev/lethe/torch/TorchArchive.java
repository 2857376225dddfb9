package dev.lethe.torch;

import dev.lethe.core.LetheException;
import dev.lethe.torch.Unpickler.StorageRef;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A TorchScript module file as {@code torch.jit.save} writes it: a zip holding
 * {@code <root>/data.pkl} (the module objects, a pickle), {@code <root>/code/} (the classes'
 * TorchScript source, which lists each class's {@code __parameters__} and {@code __buffers__}),
 * {@code <root>/data/<key>} (each tensor storage's raw little-endian elements, stored
 * uncompressed), {@code <root>/constants.pkl} and {@code <root>/version}. {@link #read} parses
 * the state dict without loading PyTorch; {@link #weights} extracts float32 parameter values and
 * {@link #compose} writes a copy with new values for some parameters.
 *
 * <p>Refusals are {@link LetheException} INVALID_ARGUMENT naming {@value #FIELD} (the upload's
 * field): not a zip (with a hint for an ONNX file or a legacy pickle), a zip without
 * {@code <root>/data.pkl}, a {@code torch.save} zip (data.pkl without code/), a corrupt or
 * hostile zip (overlapping entries, sizes past the file, metadata entries over
 * {@link ArchiveLimits}, inflation past the declared size, encrypted or unknown compression,
 * CRC mismatches in metadata), a pickle outside TorchScript's subset, a storage whose entry is
 * missing or of the wrong size, a tensor view past its storage, and parameters that cannot be
 * replaced safely: a parameter not C-contiguous, whose storage entry is compressed, or whose
 * elements overlap those of another tensor that is not the same view (tied weights, one tensor
 * under two names, are allowed and listed with {@link TorchTensor#aliasOf()}).
 *
 * <p>Ownership: the archive keeps its {@link ArchiveSource} and reads from it on
 * {@link #weights}/{@link #compose}; the source's bytes must not change while the archive is in
 * use. The archive holds only the directory and the tensor list. Immutable and thread-safe.
 */
public final class TorchArchive {
  /** The request field refusals name: the uploaded file's bytes (PutModel's {@code chunk}). */
  public static final String FIELD = "chunk";

  private final ArchiveSource source;
  private final ZipDirectory zip;
  private final String root;
  private final List<TorchTensor> tensors;
  private final Map<String, TorchTensor> byName;
  private final Map<String, ZipDirectory.Entry> storageEntries;
  private final String rootClass;
  private final ForwardSignature forward;

  private TorchArchive(ArchiveSource source, ZipDirectory zip, String root, List<TorchTensor> tensors,
      Map<String, ZipDirectory.Entry> storageEntries, String rootClass, ForwardSignature forward) {
    this.source = source;
    this.rootClass = rootClass;
    this.forward = forward;
    this.zip = zip;
    this.root = root;
    this.tensors = tensors;
    this.byName = new LinkedHashMap<>();
    tensors.forEach(t -> byName.put(t.name(), t));
    this.storageEntries = storageEntries;
  }

  static LetheException refuse(String problem) {
    return LetheException.invalid(FIELD, problem);
  }

  /** Reads {@code file} (which must not change while the archive is used). */
  public static TorchArchive read(Path file) {
    return read(ArchiveSource.ofFile(file), ArchiveLimits.defaults());
  }

  /** Reads an archive in memory (the array is kept, not copied). */
  public static TorchArchive read(byte[] bytes) {
    return read(ArchiveSource.ofBytes(bytes), ArchiveLimits.defaults());
  }

  /** Reads the archive in {@code source} within {@code limits}; refuses as the class doc says. */
  public static TorchArchive read(ArchiveSource source, ArchiveLimits limits) {
    try {
      return parse(source, limits);
    } catch (ArithmeticException e) {
      throw refuse("a tensor's or storage's size overflows 64 bits");
    }
  }

  private static TorchArchive parse(ArchiveSource source, ArchiveLimits limits) {
    ZipDirectory zip = ZipDirectory.read(source, limits);
    String root = root(zip);
    String codePrefix = root + "/code/";
    ModuleClasses classes = new ModuleClasses();
    long[] budget = {limits.maxTotalMetadataBytes()};
    boolean hasCode = false;
    for (ZipDirectory.Entry e : zip.entries().values()) {
      if (e.name().startsWith(codePrefix)) {
        hasCode = true;
        if (e.name().endsWith(".py")) {
          String module = e.name().substring(codePrefix.length(), e.name().length() - 3).replace('/', '.');
          classes.parse(module, new String(metadata(source, zip, e, limits, budget), StandardCharsets.UTF_8));
        }
      }
    }
    if (!hasCode) {
      throw refuse("not a TorchScript archive: " + root + "/data.pkl without " + root + "/code/ is a torch.save "
          + "pickle (a state_dict or an eager module), not a TorchScript module; save it with "
          + "torch.jit.save(torch.jit.script(model)) or torch.jit.trace");
    }
    ZipDirectory.Entry order = zip.entries().get(root + "/byteorder");
    if (order != null) {
      String o = new String(metadata(source, zip, order, limits, budget), StandardCharsets.US_ASCII).trim();
      if (!o.equals("little")) {
        throw refuse("the archive's storages are " + o + "-endian (" + root + "/byteorder); Lethe reads "
            + "little-endian archives only");
      }
    }
    byte[] pkl = metadata(source, zip, zip.entries().get(root + "/data.pkl"), limits, budget);
    Object module = Unpickler.load(pkl, root + "/data.pkl");
    ModuleTree.Result tree = ModuleTree.tensors(module, classes, limits.maxModuleDepth());
    Map<String, ZipDirectory.Entry> storages = storages(zip, root, tree);
    checkParameters(tree.tensors(), storages);
    String rootClass = ((Unpickler.Obj) module).cls.qualified();
    ModuleClasses.ClassInfo info = classes.get(rootClass);
    ForwardSignature forward = info == null ? null : ForwardSignature.parse(info.forward());
    return new TorchArchive(source, zip, root, tree.tensors(), storages, rootClass, forward);
  }

  /**
   * Whether {@code source} looks like a TorchScript archive (a zip with {@code <root>/data.pkl}
   * and {@code <root>/code/}), reading only its central directory: what an upload of the wrong
   * format can be told ("this is a TorchScript archive"). Says nothing about its validity.
   */
  public static boolean looksLikeTorchScript(ArchiveSource source) {
    try {
      ZipDirectory zip = ZipDirectory.read(source, ArchiveLimits.defaults());
      String prefix = root(zip) + "/code/";
      return zip.entries().keySet().stream().anyMatch(n -> n.startsWith(prefix));
    } catch (LetheException e) {
      return false;
    }
  }

  private static String root(ZipDirectory zip) {
    List<String> roots = new ArrayList<>();
    for (String name : zip.entries().keySet()) {
      int slash = name.indexOf('/');
      if (slash > 0 && name.substring(slash).equals("/data.pkl")) {
        roots.add(name.substring(0, slash));
      }
    }
    if (roots.isEmpty()) {
      throw refuse("not a TorchScript archive: a zip without <root>/data.pkl");
    }
    if (roots.size() > 1) {
      throw refuse("not a TorchScript archive: the zip holds several modules (" + String.join(", ", roots) + ")");
    }
    return roots.get(0);
  }

  private static byte[] metadata(ArchiveSource src, ZipDirectory zip, ZipDirectory.Entry e, ArchiveLimits limits,
      long[] budget) {
    if (e.size() > budget[0]) {
      throw refuse("the archive's metadata (data.pkl and code/) exceeds " + limits.maxTotalMetadataBytes() + " bytes");
    }
    byte[] b = zip.content(src, e, limits.maxMetadataBytes());
    budget[0] -= b.length;
    return b;
  }

  private static Map<String, ZipDirectory.Entry> storages(ZipDirectory zip, String root, ModuleTree.Result tree) {
    Map<String, ZipDirectory.Entry> out = new HashMap<>();
    for (StorageRef s : tree.storages().values()) {
      ZipDirectory.Entry e = zip.entries().get(root + "/data/" + s.key());
      if (e == null) {
        throw refuse("storage '" + s.key() + "' has no entry " + root + "/data/" + s.key());
      }
      long bytes = Math.multiplyExact(s.numel(), (long) s.dtype().elementBytes());
      if (e.size() != bytes) {
        throw refuse("storage '" + s.key() + "' (" + s.dtype() + "[" + s.numel() + "]) needs " + bytes
            + " bytes but its entry holds " + e.size());
      }
      out.put(s.key(), e);
    }
    for (TorchTensor t : tree.tensors()) {
      StorageRef s = tree.storages().get(t.storageKey());
      if (t.elementCount() > 0 && lastElement(t) >= s.numel()) {
        throw refuse("tensor '" + t.name() + "' reaches element " + lastElement(t) + " of storage '" + s.key()
            + "', which has " + s.numel());
      }
    }
    return out;
  }

  /** Index in its storage of a tensor's last element (for a non-empty tensor). */
  static long lastElement(TorchTensor t) {
    long last = t.storageOffset();
    long[] d = t.dims();
    long[] s = t.strides();
    for (int i = 0; i < d.length; i++) {
      last = Math.addExact(last, Math.multiplyExact(d[i] - 1, s[i]));
    }
    return last;
  }

  private static void checkParameters(List<TorchTensor> tensors, Map<String, ZipDirectory.Entry> storages) {
    Map<String, List<TorchTensor>> byStorage = new HashMap<>();
    for (TorchTensor t : tensors) {
      if (t.aliasOf() == null && t.elementCount() > 0) {
        byStorage.computeIfAbsent(t.storageKey(), k -> new ArrayList<>()).add(t);
      }
    }
    for (TorchTensor p : tensors) {
      if (!p.isParameter() || p.aliasOf() != null || p.elementCount() == 0) {
        continue;
      }
      if (!p.isContiguous()) {
        throw refuse("parameter '" + p.name() + "' is not contiguous (dims " + java.util.Arrays.toString(p.dims())
            + ", strides " + java.util.Arrays.toString(p.strides()) + "); Lethe replaces parameters as whole "
            + "row-major blocks: make it contiguous before saving (param.data = param.data.contiguous())");
      }
      if (storages.get(p.storageKey()).method() != 0) {
        throw refuse("the storage of parameter '" + p.name() + "' is compressed in the zip; torch.jit.save "
            + "stores storages uncompressed (re-save the module with torch.jit.save)");
      }
      for (TorchTensor o : byStorage.get(p.storageKey())) {
        if (o != p && p.storageOffset() <= lastElement(o) && o.storageOffset() <= lastElement(p)) {
          throw refuse("parameter '" + p.name() + "' shares elements of storage '" + p.storageKey() + "' with "
              + (o.isParameter() ? "parameter '" : "buffer '") + o.name() + "' (a different view): replacing one "
              + "would change the other; save the module with separate (cloned) tensors");
        }
      }
    }
  }

  /** Every state_dict entry (parameters and buffers), state_dict order. */
  public List<TorchTensor> tensors() {
    return tensors;
  }

  /**
   * The parameters as {@code module.named_parameters()} lists them: state_dict order, each tensor
   * once (a tied weight under its first name only).
   */
  public List<TorchTensor> parameters() {
    return tensors.stream().filter(t -> t.isParameter() && t.aliasOf() == null).toList();
  }

  /** The state_dict entry {@code name}. */
  public Optional<TorchTensor> tensor(String name) {
    return Optional.ofNullable(byName.get(name));
  }

  /** The root module's TorchScript class, e.g. {@code __torch__.Mlp}. */
  public String rootClass() {
    return rootClass;
  }

  /** The root module's {@code forward} signature, when its code declares one Lethe can read. */
  public Optional<ForwardSignature> forward() {
    return Optional.ofNullable(forward);
  }

  /**
   * The content of the extra file {@code name} ({@code torch.jit.save(m, f, _extra_files=…)},
   * stored as {@code <root>/extra/<name>}), read and CRC-checked within
   * {@link ArchiveLimits#DEFAULT_MAX_METADATA_BYTES}; empty when the archive has none.
   */
  public Optional<byte[]> extraFile(String name) {
    ZipDirectory.Entry e = zip.entries().get(root + "/extra/" + name);
    return e == null ? Optional.empty()
        : Optional.of(zip.content(source, e, ArchiveLimits.DEFAULT_MAX_METADATA_BYTES));
  }

  /** The archive's root folder inside the zip ({@code <root>/data.pkl}). */
  public String root() {
    return root;
  }

  /** Size of the file in bytes (a composed version has the same size). */
  public long size() {
    return zip.size();
  }

  /**
   * Checks that {@code names} are parameters whose values {@link #compose} can replace: each a
   * parameter of this module (a buffer is refused), float32, listed once, and not together with
   * another name of the same tied tensor. Refuses with INVALID_ARGUMENT naming {@code field}.
   *
   * @return the parameters, in the order of {@code names}
   */
  public List<TorchTensor> replaceable(List<String> names, String field) {
    List<TorchTensor> out = new ArrayList<>(names.size());
    Set<String> tensorsSeen = new HashSet<>();
    for (String n : names) {
      TorchTensor t = byName.get(n);
      if (t == null) {
        throw LetheException.invalid(field, "'" + n + "' is not a parameter of the TorchScript module; it has "
            + parameterList());
      }
      if (!t.isParameter()) {
        throw LetheException.invalid(field, "'" + n + "' is a buffer of the TorchScript module, not a parameter");
      }
      if (t.dtype() != TorchDtype.FLOAT32) {
        throw LetheException.invalid(field, "parameter '" + n + "' is " + t.dtype() + "; only FLOAT32 parameters "
            + "can be erasable");
      }
      String tensor = t.aliasOf() == null ? n : t.aliasOf();
      if (!tensorsSeen.add(tensor)) {
        throw LetheException.invalid(field, "'" + n + "' is listed twice"
            + (tensor.equals(n) ? "" : " (it is tied to '" + tensor + "', the same tensor)"));
      }
      out.add(t);
    }
    return out;
  }

  private String parameterList() {
    List<String> names = parameters().stream().map(TorchTensor::name).toList();
    String shown = String.join(", ", names.subList(0, Math.min(names.size(), 20)));
    return names.isEmpty() ? "no parameters" : "[" + shown + (names.size() > 20 ? ", … " + names.size() + " in all" : "")
        + "]";
  }

  /**
   * The current values of {@code names} (checked as {@link #replaceable} does, field
   * {@code spec.erasable_parameters}) as one little-endian float32 array in that order, each
   * parameter's elements row-major: the layout of a version's weights
   * ({@code store.VersionWeights}). Reads the storages from the source.
   */
  public byte[] weights(List<String> names) {
    List<TorchTensor> params = replaceable(names, "spec.erasable_parameters");
    long total = 0;
    for (TorchTensor t : params) {
      total += t.elementCount() * Float.BYTES;
    }
    if (total > Integer.MAX_VALUE - 16) {
      throw LetheException.tooLarge("spec.erasable_parameters", "the parameters hold " + total
          + " bytes, more than one array can");
    }
    ByteBuffer out = ByteBuffer.allocate((int) total).order(ByteOrder.LITTLE_ENDIAN);
    for (TorchTensor t : params) {
      int len = (int) (t.elementCount() * Float.BYTES);
      source.read(position(t), out.slice(out.position(), len));
      out.position(out.position() + len);
    }
    return out.array();
  }

  /** One float32 parameter's values, row-major (a copy). */
  public float[] floats(String name) {
    byte[] b = weights(List.of(name));
    float[] v = new float[b.length / Float.BYTES];
    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
    return v;
  }

  /**
   * The raw little-endian elements of any contiguous tensor (a parameter or a buffer, any dtype),
   * row-major, read from the source (a stored or a deflated storage entry).
   *
   * @throws IllegalArgumentException for an unknown name or a non-contiguous tensor
   */
  public byte[] rawValues(String name) {
    TorchTensor t = byName.get(name);
    if (t == null || !t.isContiguous()) {
      throw new IllegalArgumentException(t == null ? "no tensor " + name : name + " is not contiguous");
    }
    long len = t.elementCount() * t.dtype().elementBytes();
    ZipDirectory.Entry e = storageEntries.get(t.storageKey());
    long from = t.storageOffset() * t.dtype().elementBytes();
    if (e.method() == 0) {
      byte[] out = new byte[Math.toIntExact(len)];
      source.read(e.dataOffset() + from, ByteBuffer.wrap(out));
      return out;
    }
    byte[] all = zip.content(source, e, Integer.MAX_VALUE - 16);
    return java.util.Arrays.copyOfRange(all, (int) from, (int) (from + len));
  }

  /** Absolute position in the file of a (contiguous, stored) parameter's first byte. */
  long position(TorchTensor t) {
    return storageEntries.get(t.storageKey()).dataOffset() + t.storageOffset() * t.dtype().elementBytes();
  }

  /**
   * This archive with new values for the parameters {@code names} (in that order, checked as
   * {@link #replaceable} does with field {@code spec.erasable_parameters}): {@code values} holds
   * their little-endian float32 elements concatenated, row-major, as {@link #weights} returns
   * them ({@code values.remaining()} must be exactly their size). Everything else is copied
   * byte for byte, and every CRC-32 of a changed entry (local header, data descriptor, central
   * directory) is recomputed, so equal values give the original file. The CRCs are computed here
   * (one read of each changed storage); the returned composition streams on demand.
   *
   * <p>{@code values} is not copied: its bytes must not change while the composition is used.
   */
  public ArchiveComposition compose(List<String> names, ByteBuffer values) {
    List<TorchTensor> params = replaceable(names, "spec.erasable_parameters");
    ByteBuffer v = values.slice().order(ByteOrder.LITTLE_ENDIAN);
    long need = 0;
    for (TorchTensor t : params) {
      need += t.elementCount() * Float.BYTES;
    }
    if (v.remaining() != need) {
      throw new IllegalArgumentException("the values hold " + v.remaining() + " bytes; parameters " + names
          + " need " + need);
    }
    Map<ZipDirectory.Entry, List<ArchiveComposition.Patch>> byEntry = new LinkedHashMap<>();
    int at = 0;
    for (TorchTensor t : params) {
      int len = (int) (t.elementCount() * Float.BYTES);
      if (len > 0) {
        ArchiveComposition.Patch p = new ArchiveComposition.Patch(position(t), v.slice(at, len));
        byEntry.computeIfAbsent(storageEntries.get(t.storageKey()), k -> new ArrayList<>()).add(p);
      }
      at += len;
    }
    return ArchiveComposition.of(source, zip.size(), byEntry);
  }

  /** {@link #compose} with the values as floats (copied into a little-endian buffer). */
  public ArchiveComposition compose(List<String> names, float[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    return compose(names, b);
  }
}
