package dev.lethe.torch;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the archive's {@code code/} says about each TorchScript module class: the attribute names
 * listed in its {@code __parameters__} and {@code __buffers__} (in registration order, which is
 * state_dict order). A class file {@code <root>/code/__torch__/torch/nn/modules/conv.py} holds
 * the classes of Python module {@code __torch__.torch.nn.modules.conv}, each opened by a
 * top-level {@code class Name(Module):} line; the pickle names a module object by that
 * qualified class name ({@code __torch__.torch.nn.modules.conv.Conv2d}).
 *
 * <p>Immutable after parsing; thread-safe.
 */
final class ModuleClasses {
  /**
   * A module class's parameter and buffer attribute names, and the header of its
   * {@code forward} method as the code writes it ({@code def forward(self: …, x: Tensor) -> Tensor:},
   * joined into one line), or null when the class defines none.
   */
  record ClassInfo(List<String> parameters, List<String> buffers, String forward) {}

  private static final Pattern CLASS = Pattern.compile("^class\\s+(\\w+)\\s*\\(.*");
  private static final Pattern LIST = Pattern.compile("^\\s+(__parameters__|__buffers__)\\s*=\\s*\\[(.*)\\]\\s*$");
  private static final Pattern NAME = Pattern.compile("\"([^\"]*)\"");
  private final Map<String, ClassInfo> classes = new HashMap<>();

  /** Adds the classes of one code file; {@code module} is its Python module path. */
  void parse(String module, String source) {
    String current = null;
    List<String> params = null;
    List<String> buffers = null;
    StringBuilder forward = null;
    boolean inForward = false;
    for (String line : source.split("\n", -1)) {
      Matcher c = CLASS.matcher(line);
      if (c.matches()) {
        if (current != null && params != null) {
          classes.put(current, new ClassInfo(List.copyOf(params), List.copyOf(buffers), header(forward)));
        }
        current = module + "." + c.group(1);
        params = null;
        buffers = new ArrayList<>();
        forward = null;
        inForward = false;
        continue;
      }
      if (current != null && forward == null && line.startsWith("  def forward(")) {
        forward = new StringBuilder();
        inForward = true;
      }
      if (inForward) {
        forward.append(forward.length() == 0 ? "" : " ").append(line.trim());
        inForward = !line.trim().endsWith(":") && forward.length() < 65536;
        continue;
      }
      Matcher l = LIST.matcher(line);
      if (current != null && l.matches()) {
        List<String> names = new ArrayList<>();
        Matcher n = NAME.matcher(l.group(2));
        while (n.find()) {
          names.add(n.group(1));
        }
        if (l.group(1).equals("__parameters__")) {
          params = names;
        } else {
          buffers = names;
        }
      }
    }
    if (current != null && params != null) {
      classes.put(current, new ClassInfo(List.copyOf(params), List.copyOf(buffers), header(forward)));
    }
  }

  private static String header(StringBuilder forward) {
    return forward == null ? null : forward.toString();
  }

  /** The module class named {@code qualified}, or null when the code does not define one. */
  ClassInfo get(String qualified) {
    return classes.get(qualified);
  }

  int size() {
    return classes.size();
  }
}
