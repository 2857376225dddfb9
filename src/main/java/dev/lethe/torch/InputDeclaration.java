package dev.lethe.torch;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.lethe.core.LetheException;
import dev.lethe.onnx.InputSpec;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The data inputs a TorchScript model declares: a TorchScript archive records neither its
 * inputs' element types nor their shapes (a scripted {@code forward(self, x: Tensor)} takes any
 * tensor), so the uploader writes them into the archive as the extra file {@value #FILE}, the way
 * Triton's {@code pytorch_libtorch} backend needs them in {@code config.pbtxt}:
 *
 * <pre>
 * torch.jit.save(module, "model.pt", _extra_files={"lethe.json": json.dumps(
 *     {"inputs": [{"name": "x", "element_type": "float", "dims": [-1, 6]}]})})
 * </pre>
 *
 * <p>One entry per argument of {@code forward}, in order: {@code name} (how samples name it),
 * {@code element_type} "float" (float32) or "int64", {@code dims} batch first, -1 for any size.
 * Stateless.
 */
public final class InputDeclaration {
  /** The extra file's name ({@code <root>/extra/lethe.json} inside the archive). */
  public static final String FILE = "lethe.json";

  private InputDeclaration() {}

  /**
   * Parses the declaration.
   *
   * @throws LetheException INVALID_ARGUMENT naming {@code chunk} when it is missing or malformed
   */
  public static List<InputSpec> parse(String json) {
    if (json == null || json.isBlank()) {
      throw LetheException.invalid("chunk", "the TorchScript archive does not declare its inputs: "
          + "save it with torch.jit.save(m, path, _extra_files={'" + FILE + "': json.dumps({'inputs': "
          + "[{'name': 'x', 'element_type': 'float', 'dims': [-1, 6]}]})}) (one entry per forward "
          + "argument, batch first, -1 = any size)");
    }
    try {
      JsonObject root = JsonParser.parseString(json).getAsJsonObject();
      JsonArray inputs = root.getAsJsonArray("inputs");
      if (inputs == null || inputs.isEmpty()) {
        throw bad("'inputs' must be a non-empty list");
      }
      List<InputSpec> out = new ArrayList<>();
      Set<String> names = new HashSet<>();
      for (JsonElement e : inputs) {
        JsonObject in = e.getAsJsonObject();
        String name = in.get("name").getAsString();
        String type = in.has("element_type") ? in.get("element_type").getAsString() : "float";
        if (name.isEmpty() || !names.add(name)) {
          throw bad("input name '" + name + "' is empty or repeated");
        }
        if (!type.equals("float") && !type.equals("int64")) {
          throw bad("input '" + name + "': element_type must be \"float\" or \"int64\", got \"" + type + "\"");
        }
        JsonArray d = in.getAsJsonArray("dims");
        if (d == null || d.isEmpty()) {
          throw bad("input '" + name + "': dims must list the batch dimension first");
        }
        long[] dims = new long[d.size()];
        for (int i = 0; i < dims.length; i++) {
          dims[i] = d.get(i).getAsLong();
          if (dims[i] < -1 || dims[i] == 0) {
            throw bad("input '" + name + "': dims must be >= 1 or -1 (any), got " + dims[i]);
          }
        }
        out.add(new InputSpec(name, type.equals("float"), dims));
      }
      return List.copyOf(out);
    } catch (LetheException e) {
      throw e;
    } catch (RuntimeException e) {
      throw bad("not the expected JSON (" + e.getMessage() + ")");
    }
  }

  private static LetheException bad(String problem) {
    return LetheException.invalid("chunk", "the archive's extra/" + FILE + ": " + problem);
  }
}
