package dev.lethe.bench;

import ai.onnx.proto.OnnxMl;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import dev.lethe.onnx.GradientEngine;
import dev.lethe.onnx.GradientGraph;
import dev.lethe.onnx.ModelGraph;
import dev.lethe.torch.DjlNatives;
import dev.lethe.torch.InputDeclaration;
import dev.lethe.torch.TorchGradients;
import dev.lethe.torch.TorchModule;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Per-sample gradient throughput of the TorchScript backend (PyTorch autograd through DJL,
 * {@link TorchGradients}: one forward and backward per sample) beside the ONNX backend
 * ({@link GradientEngine}: Lethe's batched backward graph in ONNX Runtime) on the same networks
 * with the same weights (the jar's bench models {@code dev/lethe/bench/torch/*.pt} and
 * {@code *.onnx}, written by make_bench_models.py), measured in one run; the ratio is ONNX over
 * DJL. Both compute the full [N, P] gradients of softmax cross-entropy with μ = 1e-4. Part of
 * {@code lethe bench gradients}.
 */
public final class TorchGradientBench {
  private static final String[] MODELS = {"mlp", "cnn"};
  private static final int[] BATCHES = {1, 32};

  private TorchGradientBench() {}

  public static void main(String[] args) {
    run(args.length > 0 ? Double.parseDouble(args[0]) : 3.0);
  }

  /** Prints the table. */
  public static void run(double seconds) {
    DjlNatives.engine();
    System.out.printf("%nTorchScript (DJL %s, libtorch %s, %s intra-op thread(s)) beside ONNX Runtime, same models and weights:%n",
        ai.djl.engine.Engine.getDjlVersion(), ai.djl.engine.Engine.getEngine("PyTorch").getVersion(),
        System.getProperty("ai.djl.pytorch.num_threads"));
    System.out.printf("%-10s %5s %9s %14s %14s %10s%n", "model", "batch", "P", "onnx smp/s",
        "djl smp/s", "onnx/djl");
    Random rnd = new Random(7);
    for (String name : MODELS) {
      byte[] pt = resource(name + ".pt");
      byte[] onnx = resource(name + ".onnx");
      ModelGraph graph = ModelGraph.inspect(onnx, "logits", List.of());
      List<String> params = graph.parameterNames();
      try (TorchGradients djl = torch(pt, params)) {
        List<FloatBuffer> values = values(graph.model(), params);
        GradientGraph g = GradientGraph.build(graph.model(), "logits",
            LossFunction.SOFTMAX_CROSS_ENTROPY, params, 1e-4);
        try (GradientEngine ort = new GradientEngine(g)) {
          for (int batch : BATCHES) {
            Samples b = batch(rnd, graph.inputs().get(0).dims(), batch);
            float[] into = new float[(int) (batch * g.parameterCount())];
            double onnxRate = GradientBench.timed(() -> ort.computeInto(b, values, into), batch, seconds);
            double djlRate = GradientBench.timed(() -> djl.compute(b, values, values, 1e-4, true), batch, seconds);
            System.out.printf("%-10s %5d %9d %14.0f %14.0f %10.2f%n", name, batch, g.parameterCount(),
                onnxRate, djlRate, onnxRate / djlRate);
          }
        }
      }
    }
  }

  private static TorchGradients torch(byte[] pt, List<String> params) {
    TorchModule m = TorchModule.load(pt);
    List<String> inputs = InputDeclaration.parse(m.declaration()).stream().map(i -> i.name()).toList();
    if (!m.parameterNames().equals(params)) {
      m.close();
      throw new IllegalStateException("bench models disagree: TorchScript " + m.parameterNames()
          + ", ONNX " + params);
    }
    return new TorchGradients(m, inputs, params, "", LossFunction.SOFTMAX_CROSS_ENTROPY);
  }

  private static List<FloatBuffer> values(OnnxMl.ModelProto model, List<String> params) {
    List<FloatBuffer> out = new ArrayList<>();
    for (String p : params) {
      OnnxMl.TensorProto t = model.getGraph().getInitializerList().stream()
          .filter(i -> i.getName().equals(p)).findFirst().orElseThrow();
      ByteBuffer raw = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      FloatBuffer b = ByteBuffer.allocateDirect(raw.remaining()).order(ByteOrder.nativeOrder()).asFloatBuffer();
      b.put(raw.asFloatBuffer()).flip();
      out.add(b);
    }
    return out;
  }

  private static Samples batch(Random rnd, long[] declared, int n) {
    long[] dims = declared.clone();
    dims[0] = n;
    int count = 1;
    for (long d : dims) {
      count *= (int) d;
    }
    float[] x = new float[count];
    for (int i = 0; i < count; i++) {
      x[i] = rnd.nextFloat();
    }
    long[] y = new long[n];
    for (int i = 0; i < n; i++) {
      y[i] = rnd.nextInt(10);
    }
    return new Samples(List.of(), Map.of("x", DenseTensor.ofFloats(dims, x)),
        DenseTensor.ofLongs(new long[] {n}, y));
  }



  private static byte[] resource(String file) {
    try (InputStream in = TorchGradientBench.class.getResourceAsStream("torch/" + file)) {
      if (in == null) {
        throw new IllegalStateException("bench model " + file + " is missing from the jar");
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
