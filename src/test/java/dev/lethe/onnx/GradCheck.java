package dev.lethe.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import ai.onnx.proto.OnnxMl;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import dev.lethe.core.DenseTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The independent check of per-sample gradients: central finite differences of the per-sample
 * loss, where the forward model runs through ORT (float32) with one parameter element perturbed
 * and the loss is computed here in double from the logits. Tolerance: |fd − g| ≤ ABS_TOL +
 * REL_TOL · max(|fd|, |g|), step {@link #STEP}; float32 logits limit the FD accuracy to about
 * 1e-7·|L|/STEP.
 */
final class GradCheck {
  static final double STEP = 2e-3;
  static final double ABS_TOL = 2e-3;
  static final double REL_TOL = 2e-2;
  static final OrtEnvironment ENV = OrtEnvironment.getEnvironment();

  private GradCheck() {}

  /** A model case: forward model, logits value, loss, erasable params, μ. */
  record Case(OnnxMl.ModelProto model, String logits, LossFunction loss, List<String> params, double l2) {
    Case(OnnxMl.ModelProto model, String logits, LossFunction loss, List<String> params) {
      this(model, logits, loss, params, 0.0);
    }
  }

  /** Builds the gradient graph, runs it on {@code batch}, and checks every gradient by FD. */
  static GradientResult verify(Case c, Samples batch, int maxCoordsPerParam, Random rnd) {
    return verify(c, c, batch, maxCoordsPerParam, rnd);
  }

  /** As above with the gradient graph built from {@code graphCase} and the FDs from {@code c}. */
  static GradientResult verify(Case graphCase, Case c, Samples batch, int maxCoordsPerParam, Random rnd) {
    GradientGraph graph = GradientGraph.build(graphCase.model(), graphCase.logits(), graphCase.loss(),
        graphCase.params(), graphCase.l2());
    List<float[]> values = initialValues(c.model(), c.params());
    GradientResult r;
    try (GradientEngine engine = new GradientEngine(graph)) {
      r = engine.compute(batch, direct(values));
    }
    int n = batch.size();
    try (Forward fwd = new Forward(c)) {
      double[] base = fwd.losses(batch, values);
      for (int i = 0; i < n; i++) {
        assertEquals(base[i], r.losses()[i], 1e-4 + 1e-4 * Math.abs(base[i]), "loss of sample " + i);
      }
      long offset = 0;
      for (int p = 0; p < values.size(); p++) {
        float[] v = values.get(p);
        List<Integer> coords = new ArrayList<>();
        for (int k = 0; k < v.length; k++) {
          coords.add(k);
        }
        java.util.Collections.shuffle(coords, rnd);
        for (int k : coords.subList(0, Math.min(maxCoordsPerParam, v.length))) {
          float orig = v[k];
          v[k] = (float) (orig + STEP);
          double hPlus = v[k] - orig;
          double[] plus = fwd.losses(batch, values);
          v[k] = (float) (orig - STEP);
          double hMinus = orig - v[k];
          double[] minus = fwd.losses(batch, values);
          v[k] = orig;
          for (int s = 0; s < n; s++) {
            double fd = (plus[s] - minus[s]) / (hPlus + hMinus);
            double g = r.gradients()[(int) (s * r.parameterCount() + offset + k)];
            double tol = ABS_TOL + REL_TOL * Math.max(Math.abs(fd), Math.abs(g));
            if (Math.abs(fd - g) > tol) {
              fail("parameter " + c.params().get(p) + "[" + k + "] sample " + s + ": gradient " + g
                  + ", finite difference " + fd);
            }
          }
        }
        offset += v.length;
      }
    } catch (OrtException e) {
      throw new AssertionError(e);
    }
    return r;
  }

  /** The float values of the named initializers. */
  static List<float[]> initialValues(OnnxMl.ModelProto model, List<String> params) {
    List<float[]> out = new ArrayList<>();
    for (String p : params) {
      for (OnnxMl.TensorProto t : model.getGraph().getInitializerList()) {
        if (t.getName().equals(p)) {
          out.add(floats(t));
        }
      }
    }
    return out;
  }

  static float[] floats(OnnxMl.TensorProto t) {
    if (t.getFloatDataCount() > 0) {
      float[] v = new float[t.getFloatDataCount()];
      for (int i = 0; i < v.length; i++) {
        v[i] = t.getFloatData(i);
      }
      return v;
    }
    FloatBuffer fb = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    float[] v = new float[fb.remaining()];
    fb.get(v);
    return v;
  }

  static List<FloatBuffer> direct(List<float[]> values) {
    List<FloatBuffer> out = new ArrayList<>();
    for (float[] v : values) {
      FloatBuffer b = ByteBuffer.allocateDirect(v.length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
      b.put(v).flip();
      out.add(b);
    }
    return out;
  }

  /** The forward model with the params as inputs and the logits as its only output. */
  static final class Forward implements AutoCloseable {
    private final Case c;
    private final OrtSession session;

    Forward(Case c) throws OrtException {
      this.c = c;
      OnnxMl.GraphProto.Builder g = c.model().getGraph().toBuilder().clearOutput().clearValueInfo();
      g.addOutput(OnnxMl.ValueInfoProto.newBuilder().setName(c.logits()));
      for (int i = g.getInitializerCount() - 1; i >= 0; i--) {
        OnnxMl.TensorProto t = g.getInitializer(i);
        if (c.params().contains(t.getName())) {
          g.removeInitializer(i);
          long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
          g.addInput(OnnxBuilder.valueInfo(t.getName(), 1, dims));
        }
      }
      session = ENV.createSession(c.model().toBuilder().setGraph(g).build().toByteArray());
    }

    /**
     * Per-sample loss (data + μ/2 |θ|²) in double; one run per sample when the model fixes its
     * batch dimension to 1.
     */
    double[] losses(Samples batch, List<float[]> values) throws OrtException {
      OnnxMl.TensorShapeProto.Dimension d0 =
          c.model().getGraph().getInput(0).getType().getTensorType().getShape().getDim(0);
      int n = batch.size();
      if (n == 1 || !d0.hasDimValue()) {
        return lossesOneRun(batch, values);
      }
      double[] out = new double[n];
      for (int s = 0; s < n; s++) {
        out[s] = lossesOneRun(sample(batch, s), values)[0];
      }
      return out;
    }

    private static Samples sample(Samples batch, int s) {
      Map<String, DenseTensor> in = new HashMap<>();
      batch.inputs().forEach((k, t) -> in.put(k, row(t, s)));
      return new Samples(List.of(), in, row(batch.labels(), s));
    }

    private static DenseTensor row(DenseTensor t, int s) {
      long[] dims = t.dims().clone();
      int per = t.length() / (int) dims[0];
      dims[0] = 1;
      return t.isFloat()
          ? DenseTensor.ofFloats(dims, java.util.Arrays.copyOfRange(t.floats(), s * per, (s + 1) * per))
          : DenseTensor.ofLongs(dims, java.util.Arrays.copyOfRange(t.longs(), s * per, (s + 1) * per));
    }

    private double[] lossesOneRun(Samples batch, List<float[]> values) throws OrtException {
      Map<String, OnnxTensor> feeds = new HashMap<>();
      try {
        for (Map.Entry<String, DenseTensor> e : batch.inputs().entrySet()) {
          DenseTensor t = e.getValue();
          feeds.put(e.getKey(), t.isFloat()
              ? OnnxTensor.createTensor(ENV, FloatBuffer.wrap(t.floats()), t.dims())
              : OnnxTensor.createTensor(ENV, java.nio.LongBuffer.wrap(t.longs()), t.dims()));
        }
        double reg = 0;
        for (int i = 0; i < values.size(); i++) {
          long[] dims = session.getInputInfo().get(c.params().get(i)).getInfo() instanceof ai.onnxruntime.TensorInfo ti
              ? ti.getShape() : null;
          feeds.put(c.params().get(i), OnnxTensor.createTensor(ENV, FloatBuffer.wrap(values.get(i)), dims));
          for (float f : values.get(i)) {
            reg += (double) f * f;
          }
        }
        try (OrtSession.Result r = session.run(feeds)) {
          FloatBuffer z = ((OnnxTensor) r.get(0)).getFloatBuffer();
          int n = batch.size();
          int cl = z.remaining() / n;
          double[] out = new double[n];
          for (int s = 0; s < n; s++) {
            double[] zs = new double[cl];
            for (int j = 0; j < cl; j++) {
              zs[j] = z.get(s * cl + j);
            }
            out[s] = Losses.loss(c.loss(), zs, batch.labels(), s) + c.l2() / 2 * reg;
          }
          return out;
        }
      } finally {
        feeds.values().forEach(OnnxTensor::close);
      }
    }

    @Override
    public void close() throws OrtException {
      session.close();
    }
  }

  /** Random batch: Gaussian float inputs of the given per-sample dims, labels per loss. */
  static Samples batch(Random rnd, int n, LossFunction loss, long classes, Object... inputs) {
    Map<String, DenseTensor> in = new HashMap<>();
    for (int i = 0; i < inputs.length; i += 2) {
      long[] sample = (long[]) inputs[i + 1];
      long[] dims = new long[sample.length + 1];
      dims[0] = n;
      System.arraycopy(sample, 0, dims, 1, sample.length);
      int count = n;
      for (long d : sample) {
        count *= d;
      }
      float[] v = new float[count];
      for (int k = 0; k < count; k++) {
        v[k] = (float) rnd.nextGaussian();
      }
      in.put((String) inputs[i], DenseTensor.ofFloats(dims, v));
    }
    return new Samples(List.of(), in, labels(rnd, n, loss, classes));
  }

  static DenseTensor labels(Random rnd, int n, LossFunction loss, long classes) {
    if (loss.hasClassLabels()) {
      long[] y = new long[n];
      for (int i = 0; i < n; i++) {
        y[i] = rnd.nextInt((int) classes);
      }
      return DenseTensor.ofLongs(new long[] {n}, y);
    }
    float[] y = new float[(int) (n * classes)];
    for (int i = 0; i < y.length; i++) {
      y[i] = loss == LossFunction.MEAN_SQUARED_ERROR ? (float) rnd.nextGaussian() : rnd.nextFloat();
    }
    return DenseTensor.ofFloats(new long[] {n, classes}, y);
  }

  /** Random float values, Gaussian scaled, as a flat array of the product of dims. */
  static float[] randn(Random rnd, double scale, long... dims) {
    int count = 1;
    for (long d : dims) {
      count *= d;
    }
    float[] v = new float[count];
    for (int i = 0; i < count; i++) {
      v[i] = (float) (scale * rnd.nextGaussian());
    }
    return v;
  }

  static float[] uniform(Random rnd, double lo, double hi, long... dims) {
    int count = 1;
    for (long d : dims) {
      count *= d;
    }
    float[] v = new float[count];
    for (int i = 0; i < count; i++) {
      v[i] = (float) (lo + (hi - lo) * rnd.nextDouble());
    }
    return v;
  }
}
