package dev.lethe.cli;

import java.math.BigDecimal;

/**
 * Rewrites the numbers of protobuf-java's JSON as grpcurl (Go's protojson) writes them: plain
 * decimals for 1e-6 ≤ |x| &lt; 1e21 without a trailing ".0" ({@code 0.0001}, {@code 1}), otherwise
 * an exponent of at least two digits ({@code 1e-07}, {@code 2.5e+21}). Strings are left as they
 * are. Stateless.
 */
final class GoNumbers {
  private GoNumbers() {}

  static String reformat(String json) {
    StringBuilder out = new StringBuilder(json.length());
    int i = 0;
    while (i < json.length()) {
      char c = json.charAt(i);
      if (c == '"') {
        int end = i + 1;
        while (json.charAt(end) != '"') {
          end += json.charAt(end) == '\\' ? 2 : 1;
        }
        out.append(json, i, end + 1);
        i = end + 1;
      } else if (c == '-' || Character.isDigit(c)) {
        int end = i + 1;
        while (end < json.length() && "0123456789.eE+-".indexOf(json.charAt(end)) >= 0) {
          end++;
        }
        out.append(number(json.substring(i, end)));
        i = end;
      } else {
        out.append(c);
        i++;
      }
    }
    return out.toString();
  }

  /** One number token as Go writes it. */
  static String number(String token) {
    BigDecimal v = new BigDecimal(token);
    if (v.signum() == 0) {
      return token.startsWith("-") ? "-0" : "0";
    }
    BigDecimal abs = v.abs();
    if (abs.compareTo(new BigDecimal("1e-6")) >= 0 && abs.compareTo(new BigDecimal("1e21")) < 0) {
      return v.stripTrailingZeros().toPlainString();
    }
    BigDecimal digits = v.stripTrailingZeros();
    int exponent = digits.precision() - digits.scale() - 1;
    String mantissa = digits.movePointLeft(exponent).toPlainString();
    String e = Integer.toString(Math.abs(exponent));
    return mantissa + "e" + (exponent < 0 ? "-" : "+") + (e.length() < 2 ? "0" + e : e);
  }
}
