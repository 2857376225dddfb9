package dev.lethe.torch;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The pickle subset TorchScript's C++ pickler writes ({@code data.pkl}, protocol 2), read into
 * plain Java values: None → {@code null}, bool, int → {@link Long} (or a {@link java.math.BigInteger}
 * past 64 bits), float → {@link Double}, str → {@link String}, tuple and list →
 * {@link List}, dict → an insertion-ordered {@link LinkedHashMap}, a class instance → {@link Obj}.
 * Nothing is looked up or run by name: {@code GLOBAL} yields a {@link Global}; {@code REDUCE} of
 * {@code torch._utils._rebuild_tensor_v2} yields a {@link TensorRef}, of
 * {@code collections.OrderedDict} an empty map, of {@code torch.jit._pickle.build_*list} or
 * {@code restore_type_tag} its first argument, of anything else a {@link Reduced}. Persistent ids
 * {@code ('storage', <Global torch.XStorage>, key, location, numel)} become {@link StorageRef}s.
 *
 * <p>A pickle that uses other opcodes, or is malformed, is refused (INVALID_ARGUMENT naming
 * {@link TorchArchive#FIELD}). One instance per pickle; not thread-safe.
 */
final class Unpickler {
  /** A {@code module.name} reference ({@code GLOBAL}). */
  record Global(String module, String name) {
    String qualified() {
      return module + "." + name;
    }
  }

  /** A class instance: {@code NEWOBJ} of {@code cls}, its state set by {@code BUILD}. */
  static final class Obj {
    final Global cls;
    Object state;

    Obj(Global cls) {
      this.cls = cls;
    }

    /** The instance's attributes in pickle order, or an empty map when its state is not a dict. */
    @SuppressWarnings("unchecked")
    Map<Object, Object> attributes() {
      return state instanceof Map<?, ?> m ? (Map<Object, Object>) m : Map.of();
    }
  }

  /** A {@code REDUCE} of a callable Lethe does not interpret. */
  record Reduced(Global fn, List<Object> args) {}

  /** A storage named by a persistent id: its zip key, element type, device and size in elements. */
  record StorageRef(String key, TorchDtype dtype, String location, long numel) {}

  /** {@code _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, ...)}. */
  record TensorRef(StorageRef storage, long offset, long[] size, long[] stride, boolean requiresGrad) {}

  private static final Object MARK = new Object();
  private final ByteBuffer in;
  private final Deque<Object> stack = new ArrayDeque<>();
  private final Deque<Integer> marks = new ArrayDeque<>();
  private final Map<Integer, Object> memo = new HashMap<>();
  private final String what;

  private Unpickler(byte[] bytes, String what) {
    this.in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    this.what = what;
  }

  /** The value of the pickle in {@code bytes}; {@code what} names it in refusals. */
  static Object load(byte[] bytes, String what) {
    try {
      return new Unpickler(bytes, what).run();
    } catch (java.nio.BufferUnderflowException | IndexOutOfBoundsException | ClassCastException
        | IllegalArgumentException | java.util.NoSuchElementException e) {
      throw TorchArchive.refuse(what + " is not a valid pickle (" + e.getClass().getSimpleName() + ")");
    }
  }

  private Object run() {
    while (true) {
      int op = in.get() & 0xFF;
      switch (op) {
        case 0x80 -> in.get(); // PROTO
        case 0x95 -> in.getLong(); // FRAME
        case '.' -> { // STOP
          return pop();
        }
        case '(' -> {
          marks.push(stack.size());
          stack.push(MARK);
        }
        case 'c' -> stack.push(new Global(line(), line()));
        case 0x93 -> { // STACK_GLOBAL
          String name = (String) pop();
          stack.push(new Global((String) pop(), name));
        }
        case 'q' -> memo.put(in.get() & 0xFF, stack.peek());
        case 'r' -> memo.put(in.getInt(), stack.peek());
        case 0x94 -> memo.put(memo.size(), stack.peek()); // MEMOIZE
        case 'h' -> stack.push(get(in.get() & 0xFF));
        case 'j' -> stack.push(get(in.getInt()));
        case ')' -> stack.push(List.of());
        case 't' -> stack.push(Collections.unmodifiableList(popMark()));
        case 0x85 -> stack.push(tuple(1));
        case 0x86 -> stack.push(tuple(2));
        case 0x87 -> stack.push(tuple(3));
        case ']' -> stack.push(new ArrayList<>());
        case 'l' -> stack.push(popMark());
        case 'a' -> {
          Object v = pop();
          list(stack.peek()).add(v);
        }
        case 'e' -> {
          List<Object> items = popMark();
          list(stack.peek()).addAll(items);
        }
        case '}' -> stack.push(new LinkedHashMap<>());
        case 'd' -> {
          Map<Object, Object> m = new LinkedHashMap<>();
          putAll(m, popMark());
          stack.push(m);
        }
        case 's' -> {
          Object v = pop();
          Object k = pop();
          map(stack.peek()).put(k, v);
        }
        case 'u' -> {
          List<Object> items = popMark();
          putAll(map(stack.peek()), items);
        }
        case 'N' -> stack.push(NONE);
        case 0x88 -> stack.push(Boolean.TRUE);
        case 0x89 -> stack.push(Boolean.FALSE);
        case 'J' -> stack.push((long) in.getInt());
        case 'K' -> stack.push((long) (in.get() & 0xFF));
        case 'M' -> stack.push((long) (in.getShort() & 0xFFFF));
        case 0x8a -> stack.push(longOf(in.get() & 0xFF));
        case 0x8b -> stack.push(longOf(length(in.getInt())));
        case 'G' -> stack.push(in.order(ByteOrder.BIG_ENDIAN).getDouble());
        case 'X' -> stack.push(utf8(length(in.getInt())));
        case 0x8c -> stack.push(utf8(in.get() & 0xFF));
        case 0x8d -> stack.push(utf8(length(in.getLong())));
        case 'T' -> stack.push(latin1(length(in.getInt())));
        case 'U' -> stack.push(latin1(in.get() & 0xFF));
        case 'B' -> stack.push(raw(length(in.getInt())));
        case 'C' -> stack.push(raw(in.get() & 0xFF));
        case '0' -> pop();
        case '1' -> popMark();
        case '2' -> stack.push(stack.peek());
        case 'R' -> {
          List<?> args = (List<?>) pop();
          stack.push(reduce((Global) pop(), args));
        }
        case 0x81 -> { // NEWOBJ: args are ignored, TorchScript objects take their state from BUILD
          pop();
          stack.push(new Obj((Global) pop()));
        }
        case 'b' -> {
          Object state = pop();
          Object target = stack.peek();
          if (!(target instanceof Obj o)) {
            throw TorchArchive.refuse(what + " builds state into a " + describe(target) + ", not an object");
          }
          o.state = state;
        }
        case 'Q' -> stack.push(persistent(pop()));
        default -> throw TorchArchive.refuse(what + " uses pickle opcode 0x" + Integer.toHexString(op)
            + " at byte " + (in.position() - 1) + ", which TorchScript does not write");
      }
      in.order(ByteOrder.LITTLE_ENDIAN);
    }
  }

  /** A marker for None inside containers (which hold no nulls); see {@link #isNone}. */
  static final Object NONE = new Object() {
    @Override
    public String toString() {
      return "None";
    }
  };

  static boolean isNone(Object v) {
    return v == null || v == NONE;
  }

  private Object reduce(Global fn, List<?> args) {
    switch (fn.qualified()) {
      case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor" -> {
        if (args.size() < 4 || !(args.get(0) instanceof StorageRef s)) {
          throw TorchArchive.refuse(what + ": a tensor without a storage");
        }
        boolean grad = args.size() > 4 && Boolean.TRUE.equals(args.get(4));
        return new TensorRef(s, (Long) args.get(1), longs(args.get(2)), longs(args.get(3)), grad);
      }
      case "collections.OrderedDict" -> {
        return new LinkedHashMap<>();
      }
      case "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_floatlist",
          "torch.jit._pickle.build_doublelist", "torch.jit._pickle.build_boollist",
          "torch.jit._pickle.build_tensorlist", "torch.jit._pickle.build_genericlist",
          "torch.jit._pickle.restore_type_tag" -> {
        return args.isEmpty() ? NONE : args.get(0);
      }
      default -> {
        return new Reduced(fn, List.copyOf(args.stream().map(a -> a == null ? NONE : a).toList()));
      }
    }
  }

  private Object persistent(Object pid) {
    if (pid instanceof List<?> t && t.size() == 5 && "storage".equals(t.get(0)) && t.get(1) instanceof Global g
        && t.get(2) instanceof String key && t.get(3) instanceof String loc && t.get(4) instanceof Long numel) {
      TorchDtype dtype = TorchDtype.ofStorage(g.module(), g.name());
      if (dtype == null) {
        throw TorchArchive.refuse(what + " names storage type " + g.qualified() + ", which Lethe does not know");
      }
      if (numel < 0) {
        throw TorchArchive.refuse(what + ": storage '" + key + "' has a negative size");
      }
      return new StorageRef(key, dtype, loc, numel);
    }
    throw TorchArchive.refuse(what + " holds a persistent id that is not a TorchScript storage");
  }

  private static long[] longs(Object v) {
    List<?> l = (List<?>) v;
    long[] out = new long[l.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = (Long) l.get(i);
    }
    return out;
  }

  private Object get(int key) {
    Object v = memo.get(key);
    if (v == null) {
      throw TorchArchive.refuse(what + " refers to memo entry " + key + ", which it never stored");
    }
    return v;
  }

  private Object pop() {
    Object v = stack.pop();
    if (v == MARK) {
      throw TorchArchive.refuse(what + " pops a mark as a value");
    }
    return v;
  }

  private List<Object> popMark() {
    int depth = marks.pop();
    List<Object> items = new ArrayList<>();
    while (stack.size() > depth + 1) {
      items.add(stack.pop());
    }
    if (stack.pop() != MARK) {
      throw TorchArchive.refuse(what + " has unbalanced marks");
    }
    Collections.reverse(items);
    return items;
  }

  private List<Object> tuple(int n) {
    Object[] items = new Object[n];
    for (int i = n - 1; i >= 0; i--) {
      items[i] = pop();
    }
    return List.of(items);
  }

  @SuppressWarnings("unchecked")
  private List<Object> list(Object v) {
    if (v instanceof ArrayList<?> l) {
      return (List<Object>) l;
    }
    throw TorchArchive.refuse(what + " appends to a " + describe(v) + ", not a list");
  }

  @SuppressWarnings("unchecked")
  private Map<Object, Object> map(Object v) {
    if (v instanceof LinkedHashMap<?, ?> m) {
      return (Map<Object, Object>) m;
    }
    throw TorchArchive.refuse(what + " sets an item of a " + describe(v) + ", not a dict");
  }

  private void putAll(Map<Object, Object> m, List<Object> kv) {
    if (kv.size() % 2 != 0) {
      throw TorchArchive.refuse(what + " sets a key without a value");
    }
    for (int i = 0; i < kv.size(); i += 2) {
      m.put(kv.get(i), kv.get(i + 1));
    }
  }

  private int length(long n) {
    if (n < 0 || n > in.remaining()) {
      throw TorchArchive.refuse(what + " declares a " + n + "-byte value past its end");
    }
    return (int) n;
  }

  private Object longOf(int n) {
    byte[] b = raw(length(n));
    byte[] be = new byte[n];
    for (int i = 0; i < n; i++) {
      be[i] = b[n - 1 - i];
    }
    java.math.BigInteger v = n == 0 ? java.math.BigInteger.ZERO : new java.math.BigInteger(be);
    return v.bitLength() < 64 ? (Object) v.longValue() : v;
  }

  private byte[] raw(int n) {
    byte[] b = new byte[length(n)];
    in.get(b);
    return b;
  }

  private String utf8(int n) {
    return new String(raw(n), StandardCharsets.UTF_8);
  }

  private String latin1(int n) {
    return new String(raw(n), StandardCharsets.ISO_8859_1);
  }

  private String line() {
    int start = in.position();
    while (in.get() != '\n') {
      if (in.position() - start > 4096) {
        throw TorchArchive.refuse(what + " has a global name longer than 4096 bytes");
      }
    }
    byte[] b = new byte[in.position() - start - 1];
    in.get(start, b);
    return new String(b, StandardCharsets.UTF_8);
  }

  private static String describe(Object v) {
    return v == null ? "None" : v.getClass().getSimpleName();
  }
}
