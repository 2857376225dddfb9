package dev.lethe.onnx;

import ai.onnx.proto.OnnxMl;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.LetheException;
import dev.lethe.core.Samples;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The symbolic dimensions after the batch of a model's fed inputs (a sequence length exported
 * with {@code dynamic_axes}): where they are, which are one size (inputs that name the same
 * {@code dim_param} share it; an unnamed symbolic dimension is its own), the sizes a batch gives
 * them, and the model specialised to those sizes. A gradient graph is built per distinct set of
 * sizes ({@link GradientEngine}); the sizes are a {@code List<Long>} with one entry per distinct
 * dimension, in input order. Immutable; thread-safe.
 */
final class SymbolicDims {
  /** One symbolic axis of a fed input; {@code slot} indexes the sizes (shared by one dim_param). */
  record Axis(String input, int axis, String param, int slot) {}

  /** The size a registration's probes give every symbolic dimension; the fallback if it fails. */
  static final long PROBE_SIZE = 4;
  static final long FALLBACK_PROBE_SIZE = 1;

  private final List<Axis> axes;
  private final int slots;

  private SymbolicDims(List<Axis> axes, int slots) {
    this.axes = List.copyOf(axes);
    this.slots = slots;
  }

  /** The symbolic dimensions after axis 0 of every fed input (a graph input not an initializer). */
  static SymbolicDims of(OnnxMl.ModelProto model) {
    OnnxMl.GraphProto g = model.getGraph();
    Set<String> inits = new HashSet<>();
    g.getInitializerList().forEach(t -> inits.add(t.getName()));
    List<Axis> axes = new ArrayList<>();
    Map<String, Integer> named = new HashMap<>();
    int slots = 0;
    for (OnnxMl.ValueInfoProto in : g.getInputList()) {
      if (inits.contains(in.getName())) {
        continue;
      }
      List<OnnxMl.TensorShapeProto.Dimension> dims = in.getType().getTensorType().getShape().getDimList();
      for (int i = 1; i < dims.size(); i++) {
        OnnxMl.TensorShapeProto.Dimension d = dims.get(i);
        if (d.hasDimValue() && d.getDimValue() > 0) {
          continue;
        }
        String param = d.hasDimParam() ? d.getDimParam() : "";
        int slot;
        if (!param.isEmpty() && named.containsKey(param)) {
          slot = named.get(param);
        } else {
          slot = slots++;
          if (!param.isEmpty()) {
            named.put(param, slot);
          }
        }
        axes.add(new Axis(in.getName(), i, param, slot));
      }
    }
    return new SymbolicDims(axes, slots);
  }

  List<Axis> axes() {
    return axes;
  }

  boolean isEmpty() {
    return axes.isEmpty();
  }

  /** How many distinct sizes a batch gives (dimensions sharing a dim_param count once). */
  int count() {
    return slots;
  }

  /** Every distinct dimension at {@code size}. */
  List<Long> uniform(long size) {
    List<Long> s = new ArrayList<>();
    for (int i = 0; i < slots; i++) {
      s.add(size);
    }
    return List.copyOf(s);
  }

  /**
   * The sizes of a batch that passed {@link SampleValidator} (every input present, of the
   * declared rank).
   *
   * @throws LetheException INVALID_ARGUMENT naming {@code samples.inputs[x]} and the dimension when
   *     two inputs that share a symbolic dimension give it different sizes: the samples of one
   *     request share them
   */
  List<Long> sizesOf(Samples batch) {
    Long[] sizes = new Long[slots];
    Axis[] first = new Axis[slots];
    for (Axis a : axes) {
      DenseTensor t = batch.inputs().get(a.input());
      long size = t.dims()[a.axis()];
      if (sizes[a.slot()] == null) {
        sizes[a.slot()] = size;
        first[a.slot()] = a;
      } else if (sizes[a.slot()] != size) {
        Axis f = first[a.slot()];
        throw LetheException.invalid("samples.inputs[" + a.input() + "]", "dimension " + a.axis() + " ('"
            + a.param() + "') is " + size + " but samples.inputs[" + f.input() + "] dimension " + f.axis()
            + " is " + sizes[a.slot()] + "; the samples of one request share the model's symbolic dimensions");
      }
    }
    return List.of(sizes);
  }

  /** "tokens dimension 1 ('seq') = 7, ..." for messages. */
  String describe(List<Long> sizes) {
    StringBuilder b = new StringBuilder();
    boolean[] said = new boolean[slots];
    for (Axis a : axes) {
      if (said[a.slot()]) {
        continue;
      }
      said[a.slot()] = true;
      if (b.length() > 0) {
        b.append(", ");
      }
      b.append("samples.inputs[").append(a.input()).append("] dimension ").append(a.axis());
      if (!a.param().isEmpty()) {
        b.append(" ('").append(a.param()).append("')");
      }
      b.append(" = ").append(sizes.get(a.slot()));
    }
    return b.toString();
  }

  /** The field of the first symbolic input, for refusals that concern the sizes as a whole. */
  String firstField() {
    return "samples.inputs[" + axes.get(0).input() + "]";
  }

  /** A copy of {@code model} whose fed inputs fix every symbolic dimension after the batch to {@code sizes}. */
  OnnxMl.ModelProto specialise(OnnxMl.ModelProto model, List<Long> sizes) {
    OnnxMl.GraphProto.Builder g = model.getGraph().toBuilder();
    for (Axis a : axes) {
      for (int i = 0; i < g.getInputCount(); i++) {
        if (g.getInput(i).getName().equals(a.input())) {
          OnnxMl.ValueInfoProto.Builder in = g.getInputBuilder(i);
          in.getTypeBuilder().getTensorTypeBuilder().getShapeBuilder().getDimBuilder(a.axis())
              .clearDimParam().setDimValue(sizes.get(a.slot()));
        }
      }
    }
    // value_info written for the symbolic shapes would contradict the fixed ones
    g.clearValueInfo();
    return model.toBuilder().setGraph(g).build();
  }
}
