package dev.lethe.torch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.LetheException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A TorchScript module loaded by DJL's PyTorch engine, in eval mode: its parameters by
 * state_dict name ({@code named_parameters()}, module order), the forward method, and the choice
 * of the logits among its outputs.
 *
 * <p>Outputs: a tensor; a tuple or list of tensors, whose elements are named by position
 * ("0", "1", ...); or a {@code Dict[str, Tensor]}, named by key. The logits are the single output
 * when {@code logits} is "", else the output of that name.
 *
 * <p>Ownership: owns its native module and the NDManager its parameters live in; {@link #close()}
 * frees both. Not thread-safe: the parameters' values and gradients are state of the module, so
 * callers serialise every use ({@link TorchGradients} does).
 */
public final class TorchModule implements AutoCloseable {
  private final PtNDManager manager;
  private final PtSymbolBlock block;
  private final Map<String, PtNDArray> parameters;
  private final String declaration;

  private TorchModule(PtNDManager manager, PtSymbolBlock block, Map<String, PtNDArray> parameters,
      String declaration) {
    this.manager = manager;
    this.block = block;
    this.parameters = parameters;
    this.declaration = declaration;
  }

  /**
   * Loads a TorchScript archive ({@code torch.jit.save}) on the CPU, in eval mode.
   *
   * @throws LetheException INVALID_ARGUMENT naming {@code chunk} when libtorch cannot load it
   */
  public static TorchModule load(byte[] archive) {
    DjlNatives.engine(); // a missing native is the server's fault, not the upload's
    PtNDManager manager = (PtNDManager) NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch");
    java.nio.file.Path file = null;
    try {
      // libtorch reads extra files only when loading from a path
      file = java.nio.file.Files.createTempFile("lethe-torchscript", ".pt");
      java.nio.file.Files.write(file, archive);
      String[] extra = {InputDeclaration.FILE};
      String[] values = {""};
      PtSymbolBlock block = JniUtils.loadModule(manager, file, true, extra, values, true);
      JniUtils.enableInferenceMode(block);
      Map<String, PtNDArray> params = new LinkedHashMap<>();
      for (NDArray p : JniUtils.moduleGetParams(block, manager)) {
        params.put(p.getName(), (PtNDArray) p);
      }
      return new TorchModule(manager, block, params, values[0]);
    } catch (IOException e) {
      manager.close();
      throw new java.io.UncheckedIOException("writing the TorchScript archive to a temporary file", e);
    } catch (RuntimeException e) {
      manager.close();
      if (e instanceof LetheException le) {
        throw le;
      }
      throw LetheException.invalid("chunk", "libtorch cannot load the TorchScript model: "
          + firstLine(e.getMessage()));
    } finally {
      if (file != null) {
        try {
          java.nio.file.Files.deleteIfExists(file);
        } catch (IOException ignored) {
          // a temporary file; the OS cleans its temporary directory
        }
      }
    }
  }

  /** The archive's extra file {@value InputDeclaration#FILE} ("" when absent). */
  public String declaration() {
    return declaration;
  }

  /** Every parameter's state_dict name, in module order. */
  public List<String> parameterNames() {
    return List.copyOf(parameters.keySet());
  }

  /** A parameter's shape. */
  public long[] parameterDims(String name) {
    return parameter(name).getShape().getShape();
  }

  /** A parameter's tensor (owned by the module). */
  PtNDArray parameter(String name) {
    PtNDArray p = parameters.get(name);
    if (p == null) {
      throw new IllegalArgumentException("no parameter " + name);
    }
    return p;
  }

  /** Whether the parameter requires grad as loaded. */
  public boolean requiresGrad(String name) {
    return JniUtils.requiresGrad(parameter(name));
  }

  /** Sets requires_grad of every parameter: true for those in {@code erasable}. */
  void requireGradOnly(java.util.Collection<String> erasable) {
    for (Map.Entry<String, PtNDArray> e : parameters.entrySet()) {
      JniUtils.attachGradient(e.getValue(), erasable.contains(e.getKey()));
    }
  }

  /** Copies {@code values} (float32, the parameter's element count) into the parameter. */
  void setParameter(String name, FloatBuffer values) {
    PtNDArray p = parameter(name);
    FloatBuffer src = values.duplicate();
    ByteBuffer direct = manager.allocateDirect(src.remaining() * Float.BYTES);
    direct.order(ByteOrder.nativeOrder()).asFloatBuffer().put(src);
    boolean grad = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try {
      p.set(direct);
    } finally {
      JniUtils.setGradMode(grad);
    }
  }

  /**
   * Runs forward on rows [from, from + len) of the inputs (in the forward method's argument
   * order), with tensors created in {@code scope}; returns the outputs, named as above, attached
   * to {@code scope}.
   */
  NDList forward(NDManager scope, List<DenseTensor> inputs, int from, int len) {
    NDList args = new NDList(inputs.size());
    for (DenseTensor t : inputs) {
      args.add(slice(scope, t, from, len));
    }
    NDList out = IValueUtils.forward(block, args, true);
    boolean named = out.stream().anyMatch(a -> a.getName() != null && !a.getName().isEmpty());
    for (int i = 0; i < out.size(); i++) {
      if (!named) {
        out.get(i).setName(String.valueOf(i));
      }
    }
    return out;
  }

  /**
   * The logits among a forward's outputs.
   *
   * @throws LetheException INVALID_ARGUMENT naming {@code spec.logits_output}, listing the outputs
   */
  static NDArray select(NDList outputs, String logits) {
    if (logits.isEmpty()) {
      if (outputs.size() != 1) {
        throw LetheException.invalid("spec.logits_output", "the module returns " + outputs.size()
            + " outputs " + names(outputs) + "; name the logits among them");
      }
      return outputs.get(0);
    }
    for (NDArray a : outputs) {
      if (logits.equals(a.getName())) {
        return a;
      }
    }
    throw LetheException.invalid("spec.logits_output", "the module has no output '" + logits
        + "'; its outputs are " + names(outputs) + " (tuple elements by position, dict entries by key)");
  }

  private static List<String> names(NDList outputs) {
    List<String> n = new ArrayList<>();
    outputs.forEach(a -> n.add(a.getName()));
    return n;
  }

  private static NDArray slice(NDManager scope, DenseTensor t, int from, int len) {
    long[] dims = t.dims().clone();
    long per = 1;
    for (int i = 1; i < dims.length; i++) {
      per *= dims[i];
    }
    dims[0] = len;
    int off = (int) (from * per);
    int count = (int) (len * per);
    if (t.isFloat()) {
      return scope.create(FloatBuffer.wrap(t.floats(), off, count).slice(), new Shape(dims));
    }
    return scope.create(LongBuffer.wrap(t.longs(), off, count).slice(), new Shape(dims), DataType.INT64);
  }

  /** Tensors attached to the module's manager, sub-managers included. */
  int managedTensors() {
    return manager.getManagedArrays().size();
  }

  /** The manager scope of one call: closed by the caller, freeing every tensor made in it. */
  NDManager newScope() {
    return manager.newSubManager();
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "(no message)";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  @Override
  public void close() {
    block.close();
    manager.close();
  }
}
