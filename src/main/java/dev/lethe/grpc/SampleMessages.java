package dev.lethe.grpc;

import dev.lethe.api.v1.SampleBatch;
import dev.lethe.api.v1.Tensor;
import dev.lethe.core.DenseTensor;
import dev.lethe.core.LetheException;
import dev.lethe.core.Samples;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Tensors and sample batches between the API ({@link Tensor}, {@link SampleBatch}) and the
 * domain ({@link DenseTensor}, {@link Samples}). Every request carries its batch in a field
 * named {@code samples}, so refusals name {@code samples}, {@code samples.inputs[x]} and
 * {@code samples.labels}. Stateless and thread-safe; arrays of the results are new.
 */
public final class SampleMessages {
  private SampleMessages() {}

  /** The request's {@code samples} field, which {@code present} says was set. */
  static Samples required(boolean present, SampleBatch samples) {
    if (!present) {
      throw LetheException.invalid("samples", "required");
    }
    return samples(samples);
  }

  /** A request's {@code samples}; labels are null when it has none. */
  static Samples samples(SampleBatch s) {
    return samples("samples", s);
  }

  /** A request's batch in the field {@code field} (errors name it); labels null when absent. */
  static Samples samples(String field, SampleBatch s) {
    if (s.getInputsCount() == 0) {
      throw LetheException.invalid(field + ".inputs", "required: at least one input tensor");
    }
    Map<String, DenseTensor> inputs = new LinkedHashMap<>();
    s.getInputsMap().forEach((name, t) -> inputs.put(name, tensor(field + ".inputs[" + name + "]", t)));
    DenseTensor labels = s.hasLabels() ? tensor(field + ".labels", s.getLabels()) : null;
    return new Samples(s.getIdsList(), inputs, labels);
  }

  public static SampleBatch batch(Samples b) {
    SampleBatch.Builder out = SampleBatch.newBuilder().addAllIds(b.ids());
    b.inputs().forEach((name, t) -> out.putInputs(name, tensor(t)));
    if (b.labels() != null) {
      out.setLabels(tensor(b.labels()));
    }
    return out.build();
  }

  /** The tensor at {@code field}: float or int64 data (not both), no negative dimension. */
  static DenseTensor tensor(String field, Tensor t) {
    long[] dims = longs(t.getDimsList());
    for (long d : dims) {
      if (d < 0) {
        throw LetheException.invalid(field, "negative dimension in dims " + t.getDimsList());
      }
    }
    boolean hasFloats = t.getFloatDataCount() > 0;
    boolean hasLongs = t.getInt64DataCount() > 0;
    if (hasFloats && hasLongs) {
      throw LetheException.invalid(field, "set float_data or int64_data, not both");
    }
    if (hasLongs) {
      return DenseTensor.ofLongs(dims, longs(t.getInt64DataList()));
    }
    float[] values = new float[t.getFloatDataCount()];
    for (int i = 0; i < values.length; i++) {
      values[i] = t.getFloatData(i); // unboxed: batches can be large
    }
    return DenseTensor.ofFloats(dims, values);
  }

  public static Tensor tensor(DenseTensor t) {
    Tensor.Builder b = Tensor.newBuilder().addAllDims(boxed(t.dims()));
    if (!t.isFloat()) {
      return b.addAllInt64Data(boxed(t.longs())).build(); // labels and ids: short
    }
    for (float f : t.floats()) {
      b.addFloatData(f); // unboxed: inputs can be large
    }
    return b.build();
  }

  private static List<Long> boxed(long[] values) {
    return Arrays.stream(values).boxed().toList();
  }

  /** A repeated int64 field as an array. */
  static long[] longs(List<Long> values) {
    return values.stream().mapToLong(Long::longValue).toArray();
  }

  /** A short repeated float field (per-sample figures) as an array. */
  static float[] floats(List<Float> values) {
    float[] out = new float[values.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = values.get(i);
    }
    return out;
  }
}
