package dev.lethe.onnx;

import dev.lethe.core.LetheException;
import dev.lethe.core.Memory;
import dev.lethe.core.MemoryBudget;
import dev.lethe.core.Messages;
import java.util.Arrays;

/**
 * The buffers a model's declared dims imply, checked against the memory budget before anything
 * is allocated for them: at registration, before the shape probe feeds synthetic samples (up to
 * {@link #PROBE_SAMPLES} at once, on the heap and again in ONNX Runtime) and before a gradient
 * buffer of one sample (4·P bytes, direct) could be needed. Stateless; thread-safe.
 */
public final class DeclaredSizes {
  /** The most samples a registration's probes feed at once. */
  public static final int PROBE_SAMPLES = 3;

  private DeclaredSizes() {}

  /**
   * Bytes of one sample of {@code in} as the registration's probes feed it: a symbolic dimension
   * after the batch (a sequence length) counts as the largest size they give it,
   * {@link SymbolicDims#PROBE_SIZE} + 1; requests bring their own sizes, and the gradient engine
   * counts a request's activations at those sizes before it allocates for them.
   *
   * @throws LetheException INVALID_ARGUMENT (field chunk) when one sample cannot be held in one
   *     array (more than 2³¹ − 1 elements) or its size overflows
   */
  public static long sampleBytes(InputSpec in) {
    long count = 1;
    for (int i = 1; i < in.dims().length; i++) {
      long d = in.dims()[i] > 0 ? in.dims()[i] : SymbolicDims.PROBE_SIZE + 1;
      if (count > Integer.MAX_VALUE / d) {
        throw LetheException.invalid("chunk", "graph input '" + Messages.quote(in.name()) + "' declares "
            + shape(in) + ": more than " + Integer.MAX_VALUE + " elements per sample, which no"
            + " request could carry");
      }
      count *= d;
    }
    return count * (in.isFloat() ? Float.BYTES : Long.BYTES);
  }

  /**
   * Checks the inputs and parameters of a model being registered against {@code budget}.
   *
   * @throws LetheException INVALID_ARGUMENT as {@link #sampleBytes}; RESOURCE_EXHAUSTED (field
   *     chunk) naming the input and its size when {@link #PROBE_SAMPLES} samples exceed the
   *     budget's gradient-row share of the heap, or (field spec.erasable_parameters) when one
   *     sample's gradients exceed the gradient buffers
   */
  public static void check(ModelGraph graph, MemoryBudget budget) {
    long total = 0;
    for (InputSpec in : graph.inputs()) {
      long bytes = sampleBytes(in);
      if ((double) bytes * PROBE_SAMPLES > budget.batchBytes()) {
        throw LetheException.tooLarge("chunk", "graph input '" + Messages.quote(in.name())
            + "' declares " + shape(in) + ", " + bytes + " bytes per sample; checking the model runs "
            + PROBE_SAMPLES + " samples, more than the " + budget.batchBytes() + " bytes of the"
            + " memory budget for sample batches (raise -Xmx or --heap-budget-bytes; see the sizing guide)");
      }
      total += bytes;
    }
    if ((double) total * PROBE_SAMPLES > budget.batchBytes()) {
      throw LetheException.tooLarge("chunk", "the graph inputs together take " + total
          + " bytes per sample; checking the model runs " + PROBE_SAMPLES + " samples, more than the "
          + budget.batchBytes() + " bytes of the memory budget for sample batches (raise -Xmx or"
          + " --heap-budget-bytes)");
    }
    long gradient = GradientEngine.RUN_BLOCKS * graph.parameterCount() * Float.BYTES;
    if (gradient > Memory.gradients().capacity()) {
      throw LetheException.tooLarge("spec.erasable_parameters", graph.parameterCount()
          + " erasable parameters need " + gradient + " bytes of gradient memory per sample (the"
          + " output and ONNX Runtime's working memory), more"
          + " than the " + Memory.gradients().capacity() + " bytes of gradient memory"
          + " (--gradient-memory-bytes, -XX:MaxDirectMemorySize; see the sizing guide)");
    }
  }

  private static String shape(InputSpec in) {
    String s = Arrays.toString(in.dims()).replace("-1", "N");
    return s;
  }
}
