package dev.lethe.fisher;

import dev.lethe.core.LetheException;
import dev.lethe.core.ModelConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * A BuildFisher request resolved against the model version it is for: every default filled in
 * and every option checked, before any sample is read.
 *
 * @param model the model's name
 * @param version the version whose weights the gradients are taken at (never 0)
 * @param kind which rows (a request that names none gets {@link #defaultKind})
 * @param layout the block split of the erasable parameters
 * @param options dampening λ, mini-batch m, inversion method, heap budget, threads, kernel rows
 * @param samples n, how many samples the stream must send
 * @param draws labels drawn per sample (MONTE_CARLO; 1 otherwise)
 * @param seed the MONTE_CARLO seed
 * @param structure BLOCK_DIAGONAL, KFAC or EKFAC (AUTO resolved)
 * @param structureReason why this structure (what AUTO compared, or "requested")
 * @param kronecker the dense layers of a KFAC/EKFAC plan ({@code layout} then covers only the
 *     other parameters), null for block-diagonal
 */
public record BuildPlan(String model, long version, CurvatureKind kind, BlockLayout layout,
    BuildOptions options, long samples, int draws, long seed, FisherStructure structure,
    String structureReason, Kronecker kronecker) {

  /** A block-diagonal plan. */
  public BuildPlan(String model, long version, CurvatureKind kind, BlockLayout layout,
      BuildOptions options, long samples, int draws, long seed) {
    this(model, version, kind, layout, options, samples, draws, seed,
        FisherStructure.BLOCK_DIAGONAL, "requested", null);
  }

  /** Rows handed to the accumulation kernels at a time. */
  static final int KERNEL_ROWS = 256;

  /**
   * Resolves {@code r} for {@code target}: kind, block size and mini-batch default to the
   * model's configuration, n to the version's train_size.
   *
   * @param budgetBytes heap for the accumulators of one pass (more blocks: more passes)
   * @throws LetheException INVALID_ARGUMENT naming the option ({@code options.…})
   */
  static BuildPlan resolve(FisherTarget target, FisherRequest r, long budgetBytes, int threads) {
    return resolve(target, r, budgetBytes, threads, Long.MAX_VALUE);
  }

  /**
   * As above, with AUTO's storage budget: the stored size of the block-diagonal Fisher (F⁻¹ and
   * F beside it, as the summary's bytes count) against {@code storageBudgetBytes} (the request's
   * own when it gives one).
   *
   * @throws LetheException FAILED_PRECONDITION naming options.structure for KFAC/EKFAC on a
   *     model without dense layers (TorchScript, or no Gemm/MatMul) or with λ = 0;
   *     INVALID_ARGUMENT naming options.minibatch for KFAC/EKFAC with mini-batches, or
   *     options.storage_budget_bytes &lt; 0
   */
  static BuildPlan resolve(FisherTarget target, FisherRequest r, long budgetBytes, int threads,
      long storageBudgetBytes) {
    BuildPlan blocks = resolveBlocks(target, r, budgetBytes, threads);
    if (r.storageBudgetBytes() < 0) {
      throw LetheException.invalid("options.storage_budget_bytes", "must be >= 0 (0 = the"
          + " server's --fisher-storage-budget-bytes), got " + r.storageBudgetBytes());
    }
    long budget = r.storageBudgetBytes() > 0 ? r.storageBudgetBytes() : storageBudgetBytes;
    FisherStructure wanted = r.structure() == null ? FisherStructure.AUTO : r.structure();
    ModelView view = target.view();
    long blockBytes = blockDiagonalBytes(blocks.layout());
    // a block-diagonal build (asked for, or AUTO within the budget) never looks at the layers
    boolean needLayers = wanted.kronecker() || (wanted == FisherStructure.AUTO && blockBytes > budget);
    java.util.List<KroneckerLayer> layers = needLayers ? view.kroneckerLayers() : java.util.List.of();
    String cannot = layers.isEmpty()
        ? "the model has no dense layers to factor (Gemm/MatMul weights of [N, in] inputs, ONNX"
            + " models only)"
        : blocks.options().miniBatch() > 1 ? "Kronecker factors are per sample (minibatch must be 1)"
        : !(blocks.options().dampening() > 0) ? "the eigenvalues need dampening λ > 0 (spec.dampening)"
        : "";
    FisherStructure structure;
    String reason;
    if (wanted == FisherStructure.AUTO) {
      long bytes = blockBytes;
      if (bytes <= budget || !cannot.isEmpty()) {
        structure = FisherStructure.BLOCK_DIAGONAL;
        reason = "AUTO: the block-diagonal Fisher takes " + bytes + " bytes"
            + (bytes <= budget ? ", within the storage budget of " + budget
                : ", over the storage budget of " + budget + ", but EKFAC is not possible: " + cannot);
      } else {
        structure = FisherStructure.EKFAC;
        reason = "AUTO: the block-diagonal Fisher would take " + bytes + " bytes, over the storage"
            + " budget of " + budget + " bytes";
      }
    } else {
      structure = wanted;
      reason = "requested";
      if (structure.kronecker() && !cannot.isEmpty()) {
        if (blocks.options().miniBatch() > 1 && !layers.isEmpty()) {
          throw LetheException.invalid("options.minibatch", "options.structure " + structure
              + ": " + cannot);
        }
        // the model (its format, its layers, its spec's λ) rules it out, not the request
        throw LetheException.precondition("options.structure " + structure + " is not possible"
            + " for model " + target.model() + ": " + cannot + "; build BLOCK_DIAGONAL (or AUTO)");
      }
    }
    if (!structure.kronecker()) {
      return new BuildPlan(blocks.model, blocks.version, blocks.kind, blocks.layout, blocks.options,
          blocks.samples, blocks.draws, blocks.seed, FisherStructure.BLOCK_DIAGONAL, reason, null);
    }
    java.util.List<long[]> shapes = view.parameterShapes();
    int[] others = view.otherParameters();
    java.util.List<long[]> otherShapes = new ArrayList<>();
    for (int i : others) {
      otherShapes.add(shapes.get(i));
    }
    BlockLayout layout = BlockLayout.forParameters(otherShapes, blocks.layout().maxBlock());
    Kronecker k = new Kronecker(structure, KroneckerLayer.offsets(shapes), others, layers);
    return new BuildPlan(blocks.model, blocks.version, blocks.kind, layout, blocks.options,
        blocks.samples, blocks.draws, blocks.seed, structure, reason, k);
  }

  /**
   * AUTO's rule, for callers that resolve it away from a build (the Spark job): BLOCK_DIAGONAL
   * while the block-diagonal Fisher of {@code layout} takes at most {@code budget} stored bytes,
   * or when {@code cannotFactor} is non-empty (why EKFAC is impossible); EKFAC otherwise.
   */
  public static FisherStructure auto(BlockLayout layout, long budget, String cannotFactor) {
    return blockDiagonalBytes(layout) <= budget || !cannotFactor.isEmpty()
        ? FisherStructure.BLOCK_DIAGONAL : FisherStructure.EKFAC;
  }

  /** Bytes of the block-diagonal Fisher of {@code layout}: packed F⁻¹ and F, float32. */
  public static long blockDiagonalBytes(BlockLayout layout) {
    long sum = 0;
    for (int b = 0; b < layout.blockCount(); b++) {
      long s = layout.size(b);
      sum += s * (s + 1) / 2 * Float.BYTES * 2;
    }
    return sum;
  }

  private static BuildPlan resolveBlocks(FisherTarget target, FisherRequest r, long budgetBytes,
      int threads) {
    if (r.method() == null) {
      throw LetheException.invalid("options.method", "must be a known value");
    }
    if (r.blockSize() < 0) {
      throw LetheException.invalid("options.block_size", "must be >= 0 (0 = the spec's), got "
          + r.blockSize());
    }
    if (r.minibatch() < 0) {
      throw LetheException.invalid("options.minibatch", "must be >= 0 (0 = the spec's), got "
          + r.minibatch());
    }
    if (r.samples() < 0) {
      throw LetheException.invalid("options.samples", "must be >= 0 (0 = train_size), got "
          + r.samples());
    }
    ModelConfig config = target.config();
    int block = r.blockSize() > 0 ? r.blockSize() : config.blockSize();
    int minibatch = r.minibatch() > 0 ? r.minibatch() : config.fisherMinibatch();
    CurvatureKind kind = r.kind() != null ? r.kind() : defaultKind(minibatch);
    if (minibatch > 1 && kind != CurvatureKind.EMPIRICAL) {
      throw LetheException.invalid("options.minibatch",
          "averaging applies to the EMPIRICAL Fisher only");
    }
    if (r.draws() < 0 || r.draws() > 1000 || (r.draws() > 0 && kind != CurvatureKind.MONTE_CARLO)) {
      throw LetheException.invalid("options.monte_carlo_draws",
          "must be 0 or, for MONTE_CARLO, in [1, 1000]; got " + r.draws());
    }
    long samples = r.samples() > 0 ? r.samples() : target.trainSize();
    if (samples < 1) {
      throw LetheException.invalid("options.samples", "version " + target.version()
          + " has train_size 0: say how many samples the stream sends");
    }
    BlockLayout layout = BlockLayout.forParameters(target.view().parameterShapes(), block);
    BuildOptions options = new BuildOptions(config.dampening(), minibatch, r.method(),
        budgetBytes, threads, KERNEL_ROWS);
    return new BuildPlan(target.model(), target.version(), kind, layout, options, samples,
        Math.max(1, r.draws()), r.seed());
  }

  /**
   * The kind of a build that names none: TRUE (the Gauss–Newton matrix; for linear models the
   * Hessian), which came closest to retraining in the evaluation (docs/evaluation.md), or
   * EMPIRICAL when mini-batches are averaged, which only applies to gradients at the true labels.
   */
  static CurvatureKind defaultKind(int minibatch) {
    return minibatch > 1 ? CurvatureKind.EMPIRICAL : CurvatureKind.TRUE;
  }

  /**
   * Groups of consecutive blocks, each [from, to), whose accumulators fit the heap budget: one
   * pass over the samples per group.
   *
   * @throws LetheException RESOURCE_EXHAUSTED (options.block_size) if one block alone does not fit
   */
  List<int[]> passes() {
    return passes(layout, options.method(), options.memoryBudgetBytes());
  }

  /** Heap the accumulators of every block would take at once (one pass). */
  long accumulatorBytes() {
    long sum = 0;
    for (int b = 0; b < layout.blockCount(); b++) {
      sum += FisherAccumulator.accumulatorBytes(options.method(), layout.size(b));
    }
    return sum;
  }

  /** Heap the accumulator of the largest block takes (the least a build can run in). */
  long largestAccumulatorBytes() {
    return FisherAccumulator.accumulatorBytes(options.method(), layout.largestBlock());
  }

  /** The same plan with passes that fit {@code bytes} of accumulators. */
  BuildPlan withMemoryBudget(long bytes) {
    return new BuildPlan(model, version, kind, layout, options.withMemoryBudget(bytes), samples,
        draws, seed, structure, structureReason, kronecker);
  }

  /**
   * Heap of a Kronecker build's factors, all layers at once: A (c × c) and G (out × out) in
   * double, and for EKFAC the corrected eigenvalues (out × c); 0 for block-diagonal.
   */
  long factorBytes() {
    if (kronecker == null) {
      return 0;
    }
    long sum = 0;
    for (KroneckerLayer l : kronecker.layers()) {
      long c = l.columns();
      sum += (c * c + (long) l.out() * l.out()
          + (structure == FisherStructure.EKFAC ? (long) l.out() * c : 0)) * Double.BYTES;
    }
    return sum;
  }

  static List<int[]> passes(BlockLayout layout, InversionMethod method, long budget) {
    List<int[]> groups = new ArrayList<>();
    int from = 0;
    long used = 0;
    for (int b = 0; b < layout.blockCount(); b++) {
      long bytes = FisherAccumulator.accumulatorBytes(method, layout.size(b));
      if (bytes > budget) {
        throw LetheException.tooLarge("options.block_size", "the accumulator of one block of "
            + layout.size(b) + " entries needs " + bytes + " bytes, more than the " + budget
            + " bytes of Fisher memory (raise --fisher-memory-bytes, or send a smaller block_size)");
      }
      if (used + bytes > budget) {
        groups.add(new int[] {from, b});
        from = b;
        used = 0;
      }
      used += bytes;
    }
    if (from < layout.blockCount()) {
      groups.add(new int[] {from, layout.blockCount()});
    }
    return groups;
  }
}
