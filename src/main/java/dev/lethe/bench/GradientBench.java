package dev.lethe.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import dev.lethe.core.DenseTensor;
import dev.lethe.onnx.GradientEngine;
import dev.lethe.onnx.GradientGraph;
import dev.lethe.onnx.GradientResult;
import dev.lethe.bench.BenchModels.Model;
import dev.lethe.onnx.OnnxBuilder;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Per-sample gradient throughput of {@link GradientEngine} beside forward-only ORT inference of
 * the same model (an MLP, a small CNN, a resnet18-size network and a transformer encoder, the
 * latter also in torch's [S, N, E] attention layout, which runs one sample at a time; see
 * {@link BenchModels}), and the gradient output rate (bytes/s of the [N, P] result) beside this
 * machine's memory-copy bandwidth, all measured in one run; then, for a Conv1d text CNN with a
 * symbolic sequence length, the first call at a new length (graph specialised and built) beside
 * warm calls at it. Usage: {@code GradientBench
 * [seconds per measurement, default 3] [lengths: only the text CNN's lengths]}; after the
 * lengths, the TorchScript backend beside the ONNX one on the same models
 * ({@link TorchGradientBench}). Note: launch with the class path in the CLASSPATH
 * variable or an @argfile; ORT 1.29 crashes (SIGSEGV) creating its environment when the java
 * command line is longer than about 4 KiB.
 */
public final class GradientBench {
  private GradientBench() {}

  private record Case(BenchModels.Model model, int[] batches) {}

  public static void main(String[] args) throws Exception {
    double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 3.0;
    Random rnd = new Random(2024);
    if (args.length > 1 && args[1].equals("lengths")) {
      newLengths(BenchModels.textCnn(rnd), rnd, seconds);
      return;
    }
    double copyBw = memcpyBandwidth(seconds);
    System.out.printf("memory-copy bandwidth (direct buffer -> float[], 128 MiB): %.2f GB/s%n", copyBw / 1e9);
    System.out.printf("%-16s %5s %9s %14s %14s %8s %14s %10s%n", "model", "batch", "P",
        "forward smp/s", "grad smp/s", "fwd/grad", "grad out GB/s", "of memcpy");
    List<Case> cases = List.of(new Case(mlp(rnd), new int[] {1, 128}), new Case(cnn(rnd), new int[] {1, 128}),
        new Case(BenchModels.resnet18(rnd), new int[] {1, 8}),
        new Case(BenchModels.transformer(rnd, false), new int[] {1, 32}),
        new Case(BenchModels.transformer(rnd, true), new int[] {8}));
    for (Case c : cases) {
      Model m = c.model();
      for (int batch : c.batches()) {
        Samples b = batch(rnd, m, batch);
        double fwd = forwardThroughput(m, b, seconds);
        GradientGraph g = GradientGraph.build(m.proto(), "z", LossFunction.SOFTMAX_CROSS_ENTROPY, m.params(), 1e-4);
        List<FloatBuffer> params = direct(m.values());
        try (GradientEngine e = new GradientEngine(g)) {
          double grad = gradThroughput(e, b, params, seconds);
          double outRate = grad * g.parameterCount() * 4;
          System.out.printf("%-16s %5d %9d %14.0f %14.0f %8.1f %14.3f %9.1f%%%n", m.name(), batch,
              g.parameterCount(), fwd, grad, fwd / grad, outRate / 1e9, 100 * outRate / copyBw);
        }
      }
    }
    newLengths(BenchModels.textCnn(rnd), rnd, seconds);
    TorchGradientBench.run(seconds);
  }

  /**
   * A model with a symbolic sequence length: the first call at a new length (its gradient graph
   * is specialised and its session built) beside a warm call at that length, batch 32.
   */
  private static void newLengths(Model m, Random rnd, double seconds) {
    int n = 32;
    long t0 = System.nanoTime();
    GradientGraph g = GradientGraph.build(m.proto(), "z", LossFunction.SOFTMAX_CROSS_ENTROPY, m.params(), 1e-4);
    List<FloatBuffer> params = direct(m.values());
    try (GradientEngine e = new GradientEngine(g)) {
      System.out.printf("%n%s, P %d: registration build (probe length %s) %.0f ms%n", m.name(), g.parameterCount(),
          g.sizes(), (System.nanoTime() - t0) / 1e6);
      System.out.printf("%-8s %5s %16s %14s %10s%n", "length", "batch", "first call ms", "warm call ms", "first/warm");
      for (long len : new long[] {32, 128, 512}) {
        Samples b = tokens(rnd, m.vocab(), n, len);
        long start = System.nanoTime();
        e.compute(b, params);
        double first = (System.nanoTime() - start) / 1e6;
        double perCall = 1e3 * n / gradThroughput(e, b, params, seconds);
        System.out.printf("%-8d %5d %16.1f %14.1f %10.1f%n", len, n, first, perCall, first / perCall);
      }
    }
  }

  private static Samples tokens(Random rnd, int vocab, int n, long len) {
    long[] t = new long[(int) (n * len)];
    for (int i = 0; i < t.length; i++) {
      t[i] = rnd.nextInt(vocab);
    }
    long[] y = new long[n];
    for (int i = 0; i < n; i++) {
      y[i] = rnd.nextInt(10);
    }
    return new Samples(List.of(), Map.of("tokens", DenseTensor.ofLongs(new long[] {n, len}, t)),
        DenseTensor.ofLongs(new long[] {n}, y));
  }

  private static double memcpyBandwidth(double seconds) {
    int n = 32 << 20;
    FloatBuffer src = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
    for (int i = 0; i < n; i++) {
      src.put(i, i);
    }
    float[] dst = new float[n];
    double best = 0;
    long end = System.nanoTime() + (long) (seconds * 1e9);
    do {
      long t0 = System.nanoTime();
      src.get(0, dst);
      long t1 = System.nanoTime();
      best = Math.max(best, n * 4.0 / ((t1 - t0) / 1e9));
    } while (System.nanoTime() < end);
    return best;
  }

  private static double forwardThroughput(Model m, Samples b, double seconds) throws OrtException {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    DenseTensor x = b.inputs().get(m.input());
    try (OrtSession s = env.createSession(m.proto().toByteArray(), new OrtSession.SessionOptions());
        OnnxTensor t = x.isFloat() ? OnnxTensor.createTensor(env, FloatBuffer.wrap(x.floats()), x.dims())
            : OnnxTensor.createTensor(env, java.nio.LongBuffer.wrap(x.longs()), x.dims())) {
      Runnable run = () -> {
        try (OrtSession.Result r = s.run(Map.of(m.input(), t))) {
          r.get(0);
        } catch (OrtException e) {
          throw new IllegalStateException(e);
        }
      };
      return timed(run, b.size(), seconds);
    }
  }

  private static double gradThroughput(GradientEngine e, Samples b, List<FloatBuffer> params, double seconds) {
    float[] into = new float[(int) (b.size() * e.graph().parameterCount())];
    return timed(() -> {
      GradientResult r = e.computeInto(b, params, into);
      if (r.gradients().length == 0) {
        throw new IllegalStateException();
      }
    }, b.size(), seconds);
  }

  /** Samples per second over repeated calls after a warm-up (also {@link TorchGradientBench}'s). */
  static double timed(Runnable call, int samples, double seconds) {
    for (int i = 0; i < 3; i++) {
      call.run();
    }
    long start = System.nanoTime();
    long end = start + (long) (seconds * 1e9);
    long calls = 0;
    long now;
    do {
      call.run();
      calls++;
      now = System.nanoTime();
    } while (now < end);
    return calls * (double) samples / ((now - start) / 1e9);
  }

  private static Model mlp(Random rnd) {
    OnnxBuilder b = new OnnxBuilder("mlp").floatInput("x", -1, 784);
    List<String> names = new ArrayList<>();
    List<float[]> values = new ArrayList<>();
    int[] widths = {784, 256, 256, 10};
    String h = "x";
    for (int l = 0; l < 3; l++) {
      float[] w = randn(rnd, Math.sqrt(2.0 / widths[l]), widths[l + 1] * widths[l]);
      float[] bias = randn(rnd, 0.01, widths[l + 1]);
      b.initializer("W" + l, w, widths[l + 1], widths[l]).initializer("b" + l, bias, widths[l + 1]);
      names.add("W" + l);
      names.add("b" + l);
      values.add(w);
      values.add(bias);
      String out = l == 2 ? "z" : "g" + l;
      b.node("Gemm", new String[] {h, "W" + l, "b" + l}, new String[] {out}, "transB", 1L);
      if (l < 2) {
        b.node("Relu", "r" + l, out);
        h = "r" + l;
      }
    }
    b.floatOutput("z", -1, 10);
    return new Model("mlp-784-256-256-10", b.build(), "x", new long[] {784}, 0, names, values);
  }

  private static Model cnn(Random rnd) {
    float[] w1 = randn(rnd, 0.3, 8 * 9);
    float[] b1 = randn(rnd, 0.01, 8);
    float[] w2 = randn(rnd, 0.1, 16 * 8 * 9);
    float[] b2 = randn(rnd, 0.01, 16);
    float[] w3 = randn(rnd, 0.05, 10 * 784);
    float[] b3 = randn(rnd, 0.01, 10);
    OnnxBuilder b = new OnnxBuilder("cnn").floatInput("x", -1, 1, 28, 28)
        .initializer("W1", w1, 8, 1, 3, 3).initializer("B1", b1, 8)
        .initializer("W2", w2, 16, 8, 3, 3).initializer("B2", b2, 16)
        .initializer("W3", w3, 10, 784).initializer("B3", b3, 10)
        .node("Conv", new String[] {"x", "W1", "B1"}, new String[] {"c1"}, "pads", new long[] {1, 1, 1, 1})
        .node("Relu", "r1", "c1")
        .node("MaxPool", new String[] {"r1"}, new String[] {"p1"}, "kernel_shape", new long[] {2, 2},
            "strides", new long[] {2, 2})
        .node("Conv", new String[] {"p1", "W2", "B2"}, new String[] {"c2"}, "pads", new long[] {1, 1, 1, 1})
        .node("Relu", "r2", "c2")
        .node("MaxPool", new String[] {"r2"}, new String[] {"p2"}, "kernel_shape", new long[] {2, 2},
            "strides", new long[] {2, 2})
        .node("Flatten", "f", "p2")
        .node("Gemm", new String[] {"f", "W3", "B3"}, new String[] {"z"}, "transB", 1L)
        .floatOutput("z", -1, 10);
    return new Model("cnn-8c-16c-10", b.build(), "x", new long[] {1, 28, 28}, 0,
        List.of("W1", "B1", "W2", "B2", "W3", "B3"), List.of(w1, b1, w2, b2, w3, b3));
  }

  private static Samples batch(Random rnd, Model m, int n) {
    long per = 1;
    for (long d : m.sample()) {
      per *= d;
    }
    long[] dims = new long[m.sample().length + 1];
    dims[0] = n;
    System.arraycopy(m.sample(), 0, dims, 1, m.sample().length);
    DenseTensor input;
    if (m.vocab() > 0) {
      long[] tokens = new long[(int) (n * per)];
      for (int i = 0; i < tokens.length; i++) {
        tokens[i] = rnd.nextInt(m.vocab());
      }
      input = DenseTensor.ofLongs(dims, tokens);
    } else {
      float[] x = new float[(int) (n * per)];
      for (int i = 0; i < x.length; i++) {
        x[i] = rnd.nextFloat();
      }
      input = DenseTensor.ofFloats(dims, x);
    }
    long[] y = new long[n];
    for (int i = 0; i < n; i++) {
      y[i] = rnd.nextInt(10);
    }
    return new Samples(List.of(), Map.of(m.input(), input), DenseTensor.ofLongs(new long[] {n}, y));
  }

  private static float[] randn(Random rnd, double scale, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (scale * rnd.nextGaussian());
    }
    return v;
  }

  private static List<FloatBuffer> direct(List<float[]> values) {
    List<FloatBuffer> out = new ArrayList<>();
    for (float[] v : values) {
      FloatBuffer b = ByteBuffer.allocateDirect(v.length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
      b.put(v).flip();
      out.add(b);
    }
    return out;
  }
}
