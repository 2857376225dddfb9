package dev.lethe.torch;

/**
 * The element type of a TorchScript storage, as its pickle names it ({@code torch.FloatStorage}
 * …), with the size of one element in bytes. Storages are little-endian (what
 * {@code torch.jit.save} writes on every platform PyTorch supports).
 */
public enum TorchDtype {
  FLOAT32("FloatStorage", 4),
  FLOAT64("DoubleStorage", 8),
  FLOAT16("HalfStorage", 2),
  BFLOAT16("BFloat16Storage", 2),
  INT64("LongStorage", 8),
  INT32("IntStorage", 4),
  INT16("ShortStorage", 2),
  INT8("CharStorage", 1),
  UINT8("ByteStorage", 1),
  BOOL("BoolStorage", 1),
  COMPLEX64("ComplexFloatStorage", 8),
  COMPLEX128("ComplexDoubleStorage", 16);

  private final String storage;
  private final int bytes;

  TorchDtype(String storage, int bytes) {
    this.storage = storage;
    this.bytes = bytes;
  }

  /** Bytes per element. */
  public int elementBytes() {
    return bytes;
  }

  /** The pickle's class name of this type's storage, e.g. {@code FloatStorage}. */
  public String storageClass() {
    return storage;
  }

  /** The type of storage class {@code module.name}, or null for one Lethe does not know. */
  static TorchDtype ofStorage(String module, String name) {
    if (!module.equals("torch")) {
      return null;
    }
    for (TorchDtype t : values()) {
      if (t.storage.equals(name)) {
        return t;
      }
    }
    return null;
  }
}
