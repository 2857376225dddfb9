package dev.lethe.core;

/**
 * Client-supplied values quoted in error messages are cut to {@link #MAX_QUOTE} characters, so
 * that a 1 MiB model name or id cannot make an answer exceed gRPC's metadata limit (and logs
 * stay readable). Stateless.
 */
public final class Messages {
  /** Characters of a client value an error message quotes at most. */
  public static final int MAX_QUOTE = 64;

  private Messages() {}

  /** {@code value}, or its first {@link #MAX_QUOTE} characters and "…(N chars)". */
  public static String quote(String value) {
    if (value == null) {
      return "null";
    }
    if (value.length() <= MAX_QUOTE) {
      return value;
    }
    return value.substring(0, MAX_QUOTE) + "…(" + value.length() + " chars)";
  }
}
