package dev.lethe.store;

import ai.onnxruntime.OrtEnvironment;
import dev.lethe.core.LetheException;
import dev.lethe.core.Sha256;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.Memory;
import dev.lethe.core.ModelFormat;
import dev.lethe.onnx.DeclaredSizes;
import dev.lethe.onnx.ForwardSession;
import dev.lethe.onnx.GradientEngine;
import dev.lethe.onnx.GradientGraph;
import dev.lethe.onnx.InputSpec;
import dev.lethe.onnx.ModelGraph;
import dev.lethe.onnx.ParameterSpec;
import dev.lethe.onnx.FileSplit;
import dev.lethe.storage.Family;
import dev.lethe.storage.Keys;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.records.ModelRecord;
import dev.lethe.storage.records.Splice;
import dev.lethe.storage.records.VersionRecord;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Checks an uploaded model and commits it: a new model (skeleton or archive, weights, record) or
 * a new version of an existing one, in one synced write. Nothing is written when a check fails.
 * The format ({@link FormatChoice}) decides the inspection: ONNX here, TorchScript in
 * {@link TorchRegistration}; the commit is the same for both.
 * Called under the model's lock by {@link ModelStore}; stateless otherwise.
 */
final class ModelRegistrar {
  private final LetheDb db;
  private final OrtEnvironment env;
  private final StoreConfig config;
  private final TorchRegistration torch;

  ModelRegistrar(LetheDb db, OrtEnvironment env, StoreConfig config) {
    this.db = db;
    this.env = env;
    this.config = config;
    this.torch = new TorchRegistration(db);
  }

  /**
   * @param record the committed record
   * @param weights the new version's weights (spec order, float32 LE)
   * @param backend a new model's backend, its forward and gradient machinery built at the
   *     resolved l2 so the first Erase is as fast as the next (null for a new version); the
   *     caller takes ownership
   */
  record Registered(ModelRecord record, byte[] weights, ModelBackend backend) {}

  /**
   * What a format's inspection hands to the commit: the record (for a new model: fields of the
   * graph; for a new version: the existing record), the blob stored under the model (skeleton
   * or archive; null for a new version) and the new version's weights.
   */
  record Inspected(ModelRecord.Builder record, Stored stored, byte[] weights, ModelBackend backend) {}

  /** A blob the commit stores, streamed when it is written (ONNX: the skeleton from the staged file). */
  interface Stored {
    InputStream open() throws IOException;

    long size();

    static Stored of(byte[] bytes) {
      return new Stored() {
        @Override
        public InputStream open() {
          return new java.io.ByteArrayInputStream(bytes);
        }

        @Override
        public long size() {
          return bytes.length;
        }
      };
    }
  }

  /**
   * @param trainedWithoutErased the uploader's attestation, recorded with a new version
   * @param erasedInEffect erased ids in effect in the active version (what it covers), or for a
   *     new model those of a deleted model of the name
   * @param firstVersion a new model's first version number (after a deleted model's)
   */
  Registered register(ModelConfig spec, Path file, ModelRecord existing,
      boolean trainedWithoutErased, long erasedInEffect, long firstVersion) {
    long now = System.currentTimeMillis();
    String sha256;
    long fileSize;
    byte[] head;
    try {
      sha256 = Sha256.hex(file);
      fileSize = java.nio.file.Files.size(file);
      try (InputStream in = java.nio.file.Files.newInputStream(file)) {
        head = in.readNBytes(4);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("reading the staged model " + file, e);
    }
    FormatChoice format = FormatChoice.of(spec.format(), head);
    if (existing != null && Records.format(existing) != format.format()) {
      throw LetheException.alreadyExists("model '" + spec.name() + "' exists as "
          + Records.format(existing) + "; a new version must be the same format, got "
          + format.format());
    }
    Inspected in = format.format() == ModelFormat.TORCHSCRIPT
        ? torch.inspect(spec, readTorchScript(file), existing, now)
        : onnx(spec, file, existing, now);
    ModelRecord.Builder record = in.record();
    if (existing == null) {
      record.setNextVersion(firstVersion)
          .setFormat(format.format().name())
          .setFormatSource(format.source());
    }
    ModelConfig resolved = spec.resolved();
    long version = record.getNextVersion();
    // An uploaded version inherits the erasures in effect: the uploader attested (checked by the
    // store) that it retrained without them, so they stay erased.
    VersionRecord parent = existing == null ? null : Records.version(existing, existing.getActiveVersion());
    boolean attests = (existing != null || erasedInEffect > 0) && trainedWithoutErased;
    record
        .setL2(resolved.l2())
        .setDampening(resolved.dampening())
        .setScale(resolved.scale())
        .setBlockSize(resolved.blockSize())
        .setFisherMinibatch(resolved.fisherMinibatch())
        .setFeatureScale(resolved.featureScale())
        .setFeatureOffset(resolved.featureOffset())
        .setFeatureMin(resolved.featureMin())
        .setFeatureMax(resolved.featureMax())
        .setNextVersion(version + 1)
        .setActiveVersion(version)
        .addVersions(VersionRecord.newBuilder()
            .setVersion(version)
            .setTrainSize(spec.trainSize())
            .setCreatedUnixMs(now)
            .setOrigin("upload")
            .setSha256(sha256)
            .setSizeBytes(fileSize)
            .setParent(parent == null ? 0 : parent.getVersion())
            .setTrainedWithoutErased(attests)
            .setErasedIdsAttested(attests ? erasedInEffect : 0)
            .addAllEraseLineage(parent == null ? List.of() : parent.getEraseLineageList()));
    List<Long> dropped = applyRetention(record, config.retention());
    ModelRecord committed = record.build();
    boolean isNew = existing == null;
    try {
      db.write(b -> {
        if (isNew) {
          try (InputStream stored = in.stored().open()) {
            b.putBlob(Family.GRAPHS, Keys.modelPrefix(spec.name()), stored, in.stored().size());
          } catch (IOException e) {
            throw new UncheckedIOException("reading the staged model " + file, e);
          }
        }
        VersionCommit.write(b, existing, committed, version, in.weights(), dropped);
      });
    } catch (RuntimeException e) {
      if (in.backend() != null) {
        in.backend().close();
      }
      throw e;
    }
    return new Registered(committed, in.weights(), in.backend());
  }

  /**
   * A TorchScript upload, read whole: TorchArchive and libtorch read the archive from memory, so
   * unlike an ONNX upload its size counts against the heap.
   */
  private static byte[] readTorchScript(Path file) {
    try {
      return java.nio.file.Files.readAllBytes(file);
    } catch (IOException e) {
      throw new UncheckedIOException("reading the staged model " + file, e);
    }
  }

  /** The ONNX inspection: graph, splice table, probe and gradient graph (a new model). */
  private Inspected onnx(ModelConfig spec, Path file, ModelRecord existing, long now) {
    // The file is scanned where it is staged: the heap holds its structure and erasable weights.
    try (UploadScan scan = UploadScan.open(file, config.graphLimits())) {
      return onnx(spec, scan, existing, now);
    }
  }

  private Inspected onnx(ModelConfig spec, UploadScan scan, ModelRecord existing, long now) {
    ModelGraph graph = ModelGraph.inspect(scan.model(), spec.logitsOutput(), spec.erasableParameters(),
        spec.frozenPrefix());
    List<ParameterSpec> params = graph.parameters();
    long[] counts = params.stream().mapToLong(ParameterSpec::elementCount).toArray();
    FileSplit split = scan.split(graph.parameterNames(), counts);
    checkFinite(split.weights(), split.parameterOffsets(), params);
    String graphSha = graphDigest(split, graph);
    if (existing != null) {
      if (!existing.getGraphSha256().equals(graphSha)
          || !existing.getLoss().equals(spec.loss().name())
          || !existing.getLogitsOutput().equals(graph.logits())) {
        throw LetheException.alreadyExists("model '" + spec.name() + "' exists with a different "
            + "graph, loss or logits; a new version needs the identical graph (or use another name)");
      }
      return new Inspected(existing.toBuilder(), null, split.weights(), null);
    }
    // Before the probes below allocate samples of the declared shape.
    DeclaredSizes.check(graph, Memory.budget());
    // Lethe only keeps models it can erase from: the loss must differentiate to every parameter.
    // The graph is built here once and its engine kept, so no Erase pays for it.
    GradientGraph gradientGraph = GradientGraph.build(graph.model(), graph.logits(), spec.loss(),
        graph.parameterNames(), spec.resolved().l2());
    ForwardSession forward = ForwardSession.create(env, graph);
    try {
      long[] outputDims = forward.probeOutputDims(
          new VersionWeights(0, split.weights(), split.parameterOffsets()).parameters());
      checkLossFits(spec.loss(), outputDims);
      ModelRecord.Builder record = newRecord(spec, graph, split, graphSha, outputDims, now);
      GradientEngine gradients = new GradientEngine(gradientGraph);
      OnnxBackend backend = new OnnxBackend(record.build(), db, env, split.parameterOffsets());
      backend.adopt(forward, gradients, spec.resolved().l2());
      return new Inspected(record, new Stored() {
        @Override
        public InputStream open() throws IOException {
          return split.skeleton();
        }

        @Override
        public long size() {
          return split.skeletonSize();
        }
      }, split.weights(), backend);
    } catch (RuntimeException e) {
      forward.close();
      throw e;
    }
  }

  /**
   * Drops the oldest non-active versions beyond {@code retention}; returns their numbers. A
   * version whose weights a kept version's Fisher was built at (its fisher_version) is kept
   * beyond the retention while that Fisher is in use: a leave-out erase makes the erased
   * samples' Fisher rows at those weights.
   */
  static List<Long> applyRetention(ModelRecord.Builder record, int retention) {
    List<Long> dropped = new ArrayList<>();
    while (record.getVersionsCount() > retention) {
      java.util.Set<Long> pinned = new java.util.HashSet<>();
      record.getVersionsList().forEach(v -> {
        if (!v.getFisherId().isEmpty() && v.getFisherVersion() != 0) {
          pinned.add(v.getFisherVersion());
        }
      });
      int victim = -1;
      for (int i = 0; i < record.getVersionsCount(); i++) {
        long v = record.getVersions(i).getVersion();
        if (v != record.getActiveVersion() && !pinned.contains(v)) {
          victim = i;
          break;
        }
      }
      if (victim < 0) {
        break;
      }
      dropped.add(record.getVersions(victim).getVersion());
      record.removeVersions(victim);
    }
    return dropped;
  }

  private static ModelRecord.Builder newRecord(ModelConfig spec, ModelGraph graph,
      FileSplit split, String graphSha, long[] outputDims, long now) {
    ModelRecord.Builder r = ModelRecord.newBuilder()
        .setName(spec.name())
        .setLoss(spec.loss().name())
        .setLogitsOutput(graph.logits())
        .setLogitsSource(graph.logitsSource())
        .setGraphSha256(graphSha)
        .setSkeletonSize(split.skeletonSize())
        .setCreatedUnixMs(now)
        .setNextVersion(1);
    graph.parameters().forEach(p -> r.addParameters(Records.parameter(p)));
    for (InputSpec in : graph.inputs()) {
      r.addInputs(Records.input(in));
    }
    for (long d : outputDims) {
      r.addOutputDims(d);
    }
    for (int s = 0; s < split.spliceOffsets().length; s++) {
      r.addSplices(Splice.newBuilder()
          .setParameter(split.spliceParameters()[s]).setOffset(split.spliceOffsets()[s]));
    }
    return r;
  }

  static void checkLossFits(LossFunction loss, long[] outputDims) {
    long c = 1;
    for (long d : outputDims) {
      c *= d;
    }
    if (loss == LossFunction.SOFTMAX_CROSS_ENTROPY && c < 2) {
      throw LetheException.invalid("spec.loss",
          "SOFTMAX_CROSS_ENTROPY needs at least 2 logits per sample, the model gives " + c);
    }
  }

  static void checkFinite(byte[] weights, long[] offsets, List<ParameterSpec> params) {
    var floats = ByteBuffer.wrap(weights).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    for (int p = 0; p < params.size(); p++) {
      for (long i = offsets[p] / 4; i < offsets[p + 1] / 4; i++) {
        if (!Float.isFinite(floats.get((int) i))) {
          throw LetheException.invalid("chunk", "initializer '" + params.get(p).name()
              + "' holds a non-finite value at index " + (i - offsets[p] / 4));
        }
      }
    }
  }

  /** Identity of the graph: skeleton bytes, splice table, parameters and inputs. */
  private static String graphDigest(FileSplit split, ModelGraph graph) {
    MessageDigest md = Sha256.digest();
    split.digestSkeleton(md);
    ByteBuffer table = ByteBuffer.allocate(12 * split.spliceOffsets().length);
    for (int s = 0; s < split.spliceOffsets().length; s++) {
      table.putLong(split.spliceOffsets()[s]).putInt(split.spliceParameters()[s]);
    }
    md.update(table.array());
    for (ParameterSpec p : graph.parameters()) {
      md.update((p.name() + java.util.Arrays.toString(p.dims()) + "\0").getBytes(StandardCharsets.UTF_8));
    }
    return HexFormat.of().formatHex(md.digest());
  }

}
