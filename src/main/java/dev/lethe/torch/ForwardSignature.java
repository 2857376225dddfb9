package dev.lethe.torch;

import java.util.ArrayList;
import java.util.List;

/**
 * The root module's {@code forward} as its TorchScript code declares it: the arguments after
 * {@code self}, in order (what Triton's libtorch backend calls {@code INPUT__0}, {@code INPUT__1},
 * …), each with its TorchScript type ({@code Tensor}, {@code Optional[Tensor]}, …), and the
 * return type ({@code Tensor}, {@code Tuple[Tensor, Tensor]}, {@code Dict[str, Tensor]}), or null
 * where the code does not say. Immutable.
 */
public record ForwardSignature(List<Argument> arguments, String returns) {
  /** One argument: its name and its TorchScript type ({@code null} when not annotated). */
  public record Argument(String name, String type) {}

  public ForwardSignature {
    arguments = List.copyOf(arguments);
  }

  /** Parses {@code def forward(self: T, x: Tensor, …) -> R:}; null when it is not such a header. */
  static ForwardSignature parse(String header) {
    String prefix = "def forward(";
    if (header == null || !header.startsWith(prefix)) {
      return null;
    }
    int depth = 0;
    int close = -1;
    List<String> parts = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    for (int i = prefix.length(); i < header.length() && close < 0; i++) {
      char c = header.charAt(i);
      if (c == '[' || c == '(') {
        depth++;
      } else if ((c == ']' || c == ')') && depth > 0) {
        depth--;
      } else if (c == ')') {
        close = i;
        continue;
      } else if (c == ',' && depth == 0) {
        parts.add(cur.toString().trim());
        cur.setLength(0);
        continue;
      }
      cur.append(c);
    }
    if (close < 0) {
      return null;
    }
    parts.add(cur.toString().trim());
    List<Argument> args = new ArrayList<>();
    for (int i = 1; i < parts.size(); i++) { // parts[0] is self
      String p = parts.get(i);
      if (p.isEmpty()) {
        continue;
      }
      int eq = p.indexOf('=');
      String decl = eq < 0 ? p : p.substring(0, eq).trim();
      int colon = decl.indexOf(':');
      args.add(colon < 0 ? new Argument(decl.trim(), null)
          : new Argument(decl.substring(0, colon).trim(), decl.substring(colon + 1).trim()));
    }
    String rest = header.substring(close + 1).trim();
    String returns = null;
    if (rest.startsWith("->")) {
      returns = rest.substring(2).trim();
      if (returns.endsWith(":")) {
        returns = returns.substring(0, returns.length() - 1).trim();
      }
    }
    return new ForwardSignature(args, returns);
  }
}
