package dev.lethe.torch;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The archives of test resources {@code torchscript_declared/}: the modules of
 * {@link TorchScriptFixtures} saved again with their inputs declared (extra file lethe.json, by
 * declare_inputs.py), so the references beside the originals hold for them.
 */
public final class DeclaredFixtures {
  private DeclaredFixtures() {}

  /** The declared archive of {@code family}. */
  public static byte[] archive(String family) {
    try (InputStream in = DeclaredFixtures.class.getResourceAsStream("/torchscript_declared/" + family + ".pt")) {
      if (in == null) {
        throw new IllegalArgumentException("no declared fixture " + family);
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The reference's parameter values, named_parameters order, as direct buffers. */
  public static List<FloatBuffer> parameters(TorchScriptFixtures.Reference ref) {
    List<FloatBuffer> out = new ArrayList<>();
    for (TorchScriptFixtures.StateEntry e : ref.state()) {
      if (e.kind() == TorchTensor.Kind.PARAMETER) {
        float[] v = e.floats();
        FloatBuffer b = ByteBuffer.allocateDirect(v.length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        b.put(v).flip();
        out.add(b);
      }
    }
    return out;
  }

  /** The reference's parameter names, named_parameters order. */
  public static List<String> parameterNames(TorchScriptFixtures.Reference ref) {
    return ref.state().stream().filter(e -> e.kind() == TorchTensor.Kind.PARAMETER)
        .map(TorchScriptFixtures.StateEntry::name).toList();
  }

  /** The reference's float32 parameter values, concatenated (spec order = named_parameters). */
  public static float[] flatParameters(TorchScriptFixtures.Reference ref) {
    List<Float> all = new ArrayList<>();
    for (TorchScriptFixtures.StateEntry e : ref.state()) {
      if (e.kind() == TorchTensor.Kind.PARAMETER) {
        for (float f : e.floats()) {
          all.add(f);
        }
      }
    }
    float[] v = new float[all.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = all.get(i);
    }
    return v;
  }

  /** Per sample and parameter tensor: |g - (ref + μθ)| ≤ TorchGradientsTest.REL_TOL · max(|ref + μθ|, 1e-6). */
  public static void assertMatches(String family, TorchScriptFixtures.Reference ref, float[] grads,
      float[] theta, double mu) {
    int n = ref.samples().size();
    long p = grads.length / n;
    for (int i = 0; i < n; i++) {
      long off = 0;
      for (var e : ref.gradients().entrySet()) {
        double[] all = e.getValue();
        int size = all.length / n;
        double diff = 0;
        double norm = 0;
        for (int k = 0; k < size; k++) {
          double want = all[i * size + k] + (theta == null ? 0 : mu * theta[(int) off + k]);
          double got = grads[(int) (i * p + off + k)];
          diff += (got - want) * (got - want);
          norm += want * want;
        }
        double rel = Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-6);
        org.junit.jupiter.api.Assertions.assertTrue(rel <= TorchGradientsTest.REL_TOL, family + " sample " + i + " " + e.getKey() + ": relative error " + rel);
        off += size;
      }
      org.junit.jupiter.api.Assertions.assertEquals(p, off, "every parameter compared");
    }
  }
}
