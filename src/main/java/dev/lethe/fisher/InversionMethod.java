package dev.lethe.fisher;

import java.util.Locale;

/** How the inverse blocks are computed; both give the same matrix (up to rounding). */
public enum InversionMethod {
  /** Rank-k Gram accumulation in double, then Cholesky and inversion per block (fast, default). */
  GRAM("gram"),
  /** The paper's per-sample Sherman–Morrison recursion from I/λ (the reference; slow). */
  SHERMAN_MORRISON("sherman-morrison");

  private final String id;

  InversionMethod(String id) {
    this.id = id;
  }

  /** The stable name stored in the Fisher header and used by the API. */
  public String id() {
    return id;
  }

  public static InversionMethod of(String id) {
    for (InversionMethod m : values()) {
      if (m.id.equals(id.toLowerCase(Locale.ROOT))) {
        return m;
      }
    }
    throw new IllegalArgumentException("unknown Fisher method " + id + " (gram, sherman-morrison)");
  }
}
