package dev.lethe.torch;

import dev.lethe.torch.ModuleClasses.ClassInfo;
import dev.lethe.torch.Unpickler.Obj;
import dev.lethe.torch.Unpickler.StorageRef;
import dev.lethe.torch.Unpickler.TensorRef;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The state dict of an unpickled TorchScript module: walks the module objects from the root in
 * state_dict order (a module's own parameters in {@code __parameters__} order, then its buffers in
 * {@code __buffers__} order, then its submodules in attribute order, recursively) and names each
 * tensor by its dotted path. A {@code None} parameter (a Linear without bias) is skipped, as
 * state_dict skips it. A module whose class the code does not define (an archive without code for
 * it) falls back to the pickle: tensors saved with requires_grad are parameters, the others
 * buffers. An object is a module when its class is under {@code __torch__} and it has a
 * {@code training} attribute, which every TorchScript module type has.
 *
 * <p>Used once per {@link TorchArchive#read}; not thread-safe.
 */
final class ModuleTree {
  private final ModuleClasses classes;
  private final int maxDepth;
  private final List<TorchTensor> out = new ArrayList<>();
  private final Map<TensorRef, String> seenRefs = new IdentityHashMap<>();
  private final Map<String, String> seenViews = new HashMap<>();
  private final Map<Obj, Boolean> onPath = new IdentityHashMap<>();
  private final Map<String, StorageRef> storages = new LinkedHashMap<>();

  /** The state dict's tensors and the storages they use, by key. */
  record Result(List<TorchTensor> tensors, Map<String, StorageRef> storages) {}

  private ModuleTree(ModuleClasses classes, int maxDepth) {
    this.classes = classes;
    this.maxDepth = maxDepth;
  }

  /** The tensors of the module {@code root}, state_dict order. */
  static Result tensors(Object root, ModuleClasses classes, int maxDepth) {
    if (!(root instanceof Obj o) || !isModule(o)) {
      throw TorchArchive.refuse("not a TorchScript archive: data.pkl holds "
          + (root instanceof Obj o2 ? "an object of class " + o2.cls.qualified() : "no module object")
          + ", not a TorchScript module");
    }
    ModuleTree t = new ModuleTree(classes, maxDepth);
    t.walk(o, "", 0);
    return new Result(List.copyOf(t.out), Collections.unmodifiableMap(t.storages));
  }

  static boolean isModule(Obj o) {
    return o.cls.module().startsWith("__torch__") && o.attributes().containsKey("training");
  }

  private void walk(Obj module, String prefix, int depth) {
    if (depth > maxDepth) {
      throw TorchArchive.refuse("submodules nest deeper than " + maxDepth + " (at '" + prefix + "')");
    }
    if (onPath.put(module, Boolean.TRUE) != null) {
      throw TorchArchive.refuse("module '" + prefix + "' contains itself");
    }
    Map<Object, Object> attrs = module.attributes();
    ClassInfo info = classes.get(module.cls.qualified());
    if (info != null) {
      for (String p : info.parameters()) {
        add(prefix + p, attrs.get(p), TorchTensor.Kind.PARAMETER, module);
      }
      for (String b : info.buffers()) {
        add(prefix + b, attrs.get(b), TorchTensor.Kind.BUFFER, module);
      }
    } else {
      for (Map.Entry<Object, Object> a : attrs.entrySet()) {
        if (a.getValue() instanceof TensorRef r) {
          add(prefix + a.getKey(), r, r.requiresGrad() ? TorchTensor.Kind.PARAMETER : TorchTensor.Kind.BUFFER, module);
        }
      }
    }
    for (Map.Entry<Object, Object> a : attrs.entrySet()) {
      if (a.getValue() instanceof Obj child && isModule(child)) {
        walk(child, prefix + a.getKey() + ".", depth + 1);
      }
    }
    onPath.remove(module);
  }

  private void add(String name, Object value, TorchTensor.Kind kind, Obj module) {
    if (Unpickler.isNone(value)) {
      return; // an optional parameter left None (bias=False): not in the state dict
    }
    if (!(value instanceof TensorRef r)) {
      throw TorchArchive.refuse((kind == TorchTensor.Kind.PARAMETER ? "parameter '" : "buffer '") + name
          + "' of class " + module.cls.qualified() + " is not a plain dense tensor");
    }
    if (r.size().length != r.stride().length) {
      throw TorchArchive.refuse("tensor '" + name + "' has " + r.size().length + " dims but "
          + r.stride().length + " strides");
    }
    for (int i = 0; i < r.size().length; i++) {
      if (r.size()[i] < 0 || r.stride()[i] < 0) {
        throw TorchArchive.refuse("tensor '" + name + "' has a negative size or stride");
      }
    }
    if (r.offset() < 0) {
      throw TorchArchive.refuse("tensor '" + name + "' has a negative storage offset");
    }
    StorageRef known = storages.putIfAbsent(r.storage().key(), r.storage());
    if (known != null && (known.dtype() != r.storage().dtype() || known.numel() != r.storage().numel())) {
      throw TorchArchive.refuse("storage '" + known.key() + "' is named as " + known.dtype() + "[" + known.numel()
          + "] and as " + r.storage().dtype() + "[" + r.storage().numel() + "]");
    }
    String view = r.storage().key() + "@" + r.offset() + Arrays.toString(r.size()) + Arrays.toString(r.stride());
    String alias = seenRefs.get(r);
    if (alias == null) {
      alias = seenViews.get(view);
    }
    seenRefs.putIfAbsent(r, name);
    seenViews.putIfAbsent(view, name);
    out.add(new TorchTensor(name, kind, r.storage().dtype(), r.size(), r.stride(), r.storage().key(), r.offset(),
        r.requiresGrad(), alias));
  }
}
