package dev.lethe.torch;

import java.util.Arrays;

/**
 * One entry of a TorchScript module's state dict, as {@link TorchArchive} found it in
 * {@code data.pkl}: where its elements lie and what it is. Immutable; arrays are copied in and
 * out.
 *
 * <p>{@code name} is the state_dict key (dotted module path and attribute:
 * {@code encoder.layers.0.self_attn.in_proj_weight}). {@code dims} is the shape (row-major,
 * empty for a scalar), {@code strides} the pickle's strides in elements; {@code storageKey} names
 * the zip entry {@code <root>/data/<storageKey>} and {@code storageOffset} is the index of the
 * first element in that storage (elements, not bytes). {@code aliasOf} is the name of an earlier
 * entry that is the same tensor (tied weights: one storage, one view, two names), else null.
 */
public final class TorchTensor {
  /** Whether an entry is a parameter ({@code __parameters__}) or a buffer ({@code __buffers__}). */
  public enum Kind {
    PARAMETER,
    BUFFER
  }

  private final String name;
  private final Kind kind;
  private final TorchDtype dtype;
  private final long[] dims;
  private final long[] strides;
  private final String storageKey;
  private final long storageOffset;
  private final boolean requiresGrad;
  private final String aliasOf;

  TorchTensor(String name, Kind kind, TorchDtype dtype, long[] dims, long[] strides, String storageKey,
      long storageOffset, boolean requiresGrad, String aliasOf) {
    this.name = name;
    this.kind = kind;
    this.dtype = dtype;
    this.dims = dims.clone();
    this.strides = strides.clone();
    this.storageKey = storageKey;
    this.storageOffset = storageOffset;
    this.requiresGrad = requiresGrad;
    this.aliasOf = aliasOf;
  }

  public String name() {
    return name;
  }

  public Kind kind() {
    return kind;
  }

  public boolean isParameter() {
    return kind == Kind.PARAMETER;
  }

  public TorchDtype dtype() {
    return dtype;
  }

  public long[] dims() {
    return dims.clone();
  }

  public long[] strides() {
    return strides.clone();
  }

  public String storageKey() {
    return storageKey;
  }

  /** First element's index in the storage (elements). */
  public long storageOffset() {
    return storageOffset;
  }

  /** The pickle's requires_grad flag (true for a trainable parameter as saved). */
  public boolean requiresGrad() {
    return requiresGrad;
  }

  /** The earlier state_dict name of this same tensor (tied weights), or null. */
  public String aliasOf() {
    return aliasOf;
  }

  /** Number of elements (1 for a scalar). */
  public long elementCount() {
    long n = 1;
    for (long d : dims) {
      n *= d;
    }
    return n;
  }

  /** Whether the strides are the row-major (C-contiguous) ones of the dims. */
  public boolean isContiguous() {
    long expect = 1;
    for (int i = dims.length - 1; i >= 0; i--) {
      if (dims[i] != 1 && strides[i] != expect) {
        return false;
      }
      expect *= dims[i];
    }
    return true;
  }

  @Override
  public String toString() {
    return (kind == Kind.PARAMETER ? "parameter " : "buffer ") + name + " " + dtype + Arrays.toString(dims)
        + " in storage " + storageKey + "@" + storageOffset + (aliasOf == null ? "" : " (= " + aliasOf + ")");
  }
}
