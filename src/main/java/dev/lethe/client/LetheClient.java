package dev.lethe.client;

import com.google.protobuf.ByteString;
import dev.lethe.api.v1.EvaluateRequest;
import dev.lethe.api.v1.GetModelRequest;
import dev.lethe.api.v1.GradientsRequest;
import dev.lethe.api.v1.CheckErasureRequest;
import dev.lethe.api.v1.ListErasuresRequest;
import dev.lethe.store.ErasureCheck;
import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.ModelChunk;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelStoreGrpc;
import dev.lethe.api.v1.BuildFisherRequest;
import dev.lethe.api.v1.PutFisherSumsRequest;
import dev.lethe.api.v1.PutModelRequest;
import dev.lethe.api.v1.SetActiveVersionRequest;
import dev.lethe.api.v1.SetScaleRequest;
import dev.lethe.api.v1.WatchModelRequest;
import dev.lethe.core.ModelConfig;
import dev.lethe.core.Samples;
import dev.lethe.core.Sha256;
import dev.lethe.erase.EraseCommand;
import dev.lethe.core.EraseOutcome;
import dev.lethe.eval.Evaluation;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.FisherSums;
import dev.lethe.grpc.FisherMessages;
import dev.lethe.grpc.FisherSumsMessages;
import dev.lethe.grpc.EraseMessages;
import dev.lethe.grpc.ModelMessages;
import dev.lethe.grpc.SampleMessages;
import dev.lethe.grpc.TokenAuthInterceptor;
import dev.lethe.onnx.GradientResult;
import dev.lethe.store.EraseLedger;
import dev.lethe.store.ModelState;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A blocking client of a Lethe server for the CLI, the evaluation and the benchmarks: takes
 * domain types and returns domain types (the messages are translated by dev.lethe.grpc's
 * converters). Failures are {@link RemoteException}s with the status code. Owns its channel;
 * close it. Thread-safe: calls may run concurrently on one client.
 */
public final class LetheClient implements AutoCloseable {
  /** Largest message the client accepts (Gradients responses can be large). */
  private static final int MAX_INBOUND_BYTES = 256 << 20;
  private static final int FLOW_CONTROL_WINDOW = 8 << 20;
  private static final int CHUNK = 1 << 20;
  private final ManagedChannel channel;
  private final ModelStoreGrpc.ModelStoreBlockingStub blocking;
  private final ModelStoreGrpc.ModelStoreStub async;

  /** Plaintext connection to {@code target} (host:port). */
  public LetheClient(String target) {
    this(channel(target).usePlaintext().build());
  }

  /**
   * A connection to {@code target} with TLS (when {@code security.tlsCa()} is set, mutual with a
   * client certificate) and a bearer token on every call (when set).
   */
  public static LetheClient connect(String target, ClientSecurity security) throws IOException {
    NettyChannelBuilder b = channel(target);
    if (security.tlsCa() != null) {
      SslContextBuilder ssl = GrpcSslContexts.forClient().trustManager(security.tlsCa().toFile());
      if (security.tlsCert() != null) {
        ssl.keyManager(security.tlsCert().toFile(), security.tlsKey().toFile());
      }
      b.sslContext(ssl.build());
      if (security.authority() != null) {
        b.overrideAuthority(security.authority());
      }
    } else {
      b.usePlaintext();
    }
    if (security.token() != null && !security.token().isEmpty()) {
      Metadata headers = new Metadata();
      headers.put(TokenAuthInterceptor.AUTHORIZATION, "Bearer " + security.token());
      b.intercept(MetadataUtils.newAttachHeadersInterceptor(headers));
    }
    return new LetheClient(b.build());
  }

  private static NettyChannelBuilder channel(String target) {
    return NettyChannelBuilder.forTarget(target)
        .flowControlWindow(FLOW_CONTROL_WINDOW)
        .maxInboundMessageSize(MAX_INBOUND_BYTES);
  }

  private LetheClient(ManagedChannel channel) {
    this.channel = channel;
    this.blocking = ModelStoreGrpc.newBlockingStub(channel);
    this.async = ModelStoreGrpc.newStub(channel);
  }

  /** Uploads a model (a new one, or a new version); returns its state after registration. */
  public ModelState putModel(ModelConfig spec, InputStream onnx) throws IOException {
    return putModel(spec, onnx, false);
  }

  /**
   * As {@link #putModel(ModelConfig, InputStream)}; {@code trainedWithoutErased} attests that a
   * new version was trained without the ids erased so far (required while erasures are in effect).
   */
  public ModelState putModel(ModelConfig spec, InputStream onnx, boolean trainedWithoutErased)
      throws IOException {
    CompletableFuture<ModelInfo> result = new CompletableFuture<>();
    StreamObserver<PutModelRequest> upload = async.putModel(Calls.single(result));
    upload.onNext(PutModelRequest.newBuilder().setSpec(ModelMessages.spec(spec).toBuilder()
        .setTrainedWithoutErased(trainedWithoutErased)).build());
    byte[] buffer = new byte[CHUNK];
    int n;
    while ((n = onnx.readNBytes(buffer, 0, CHUNK)) > 0 && !result.isDone()) {
      upload.onNext(PutModelRequest.newBuilder().setChunk(ByteString.copyFrom(buffer, 0, n)).build());
    }
    upload.onCompleted();
    return ModelMessages.state(Calls.await(result));
  }

  /** Every registered model. */
  public List<ModelState> listModels() {
    return Calls.call(() -> blocking.listModels(ListModelsRequest.getDefaultInstance()))
        .getModelsList().stream().map(ModelMessages::state).toList();
  }

  /**
   * One registered model: its loss, inputs and output shape are what a client needs to build
   * batches.
   *
   * @throws RemoteException NOT_FOUND when no model has that name
   */
  public ModelState describe(String name) {
    return listModels().stream().filter(m -> m.name().equals(name)).findFirst()
        .orElseThrow(() -> new RemoteException("NOT_FOUND", "model '" + name + "' is not registered", null));
  }

  /** The header of a downloaded file, after its sha256 was checked. */
  public record Download(String name, long version, long sizeBytes, String sha256) {}

  /**
   * Downloads a version (0 = active) to {@code out}, checking size and sha256.
   *
   * @throws IOException when the bytes do not match the header
   */
  public Download getModel(String name, long version, OutputStream out) throws IOException {
    MessageDigest md = Sha256.digest();
    ModelChunk.Header header = null;
    long size = 0;
    try {
      Iterator<ModelChunk> it = blocking.getModel(
          GetModelRequest.newBuilder().setName(name).setVersion(version).build());
      while (it.hasNext()) {
        ModelChunk c = it.next();
        if (c.hasHeader()) {
          header = c.getHeader();
        } else {
          c.getChunk().writeTo(out);
          md.update(c.getChunk().asReadOnlyByteBuffer());
          size += c.getChunk().size();
        }
      }
    } catch (StatusRuntimeException e) {
      throw Calls.remote(e);
    }
    if (header == null) {
      throw new IOException("the server sent no header");
    }
    String sha = HexFormat.of().formatHex(md.digest());
    if (size != header.getSizeBytes() || !sha.equals(header.getSha256())) {
      throw new IOException("download corrupt: got " + size + " bytes sha256 " + sha
          + ", header says " + header.getSizeBytes() + " bytes sha256 " + header.getSha256());
    }
    return new Download(header.getName(), header.getVersion(), size, sha);
  }

  /** Calls {@code onChange} with the model's state, then each change, until the stream ends; blocks. */
  public void watch(String name, Consumer<ModelState> onChange) {
    Calls.call(() -> {
      blocking.watchModel(WatchModelRequest.newBuilder().setName(name).build())
          .forEachRemaining(info -> onChange.accept(ModelMessages.state(info)));
      return null;
    });
  }

  /** Makes a kept version the active one; returns the model's state after. */
  public ModelState activate(String name, long version, boolean allowUnerase) {
    return ModelMessages.state(Calls.call(() -> blocking.setActiveVersion(
        SetActiveVersionRequest.newBuilder()
            .setName(name).setVersion(version).setAllowUnerase(allowUnerase).build())));
  }

  /**
   * Sets ε, the scale of the SSSE step, in a model's spec (later erases use it); returns the spec
   * as the server now holds it.
   */
  public ModelConfig setScale(String name, double scale) {
    return ModelMessages.state(Calls.call(() -> blocking.setScale(SetScaleRequest.newBuilder()
        .setName(name).setScale(scale).build()))).spec();
  }

  /**
   * Sets the spec fields named in {@code fields} (proto names, e.g. {@code feature_scale}) to
   * their values in {@code values}; other fields of {@code values} are ignored.
   */
  public ModelState updateSpec(String name, ModelConfig values, List<String> fields) {
    return ModelMessages.state(Calls.call(() -> blocking.updateSpec(
        dev.lethe.api.v1.UpdateSpecRequest.newBuilder().setName(name)
            .setSpec(ModelMessages.spec(values)).addAllFields(fields).build())));
  }

  /** Deletes a model (every version, Fisher and stored answer); its ledger entries stay. */
  public dev.lethe.store.ModelDeletion.Deleted deleteModel(String name, long expectedVersion) {
    var r = Calls.call(() -> blocking.deleteModel(dev.lethe.api.v1.DeleteModelRequest.newBuilder()
        .setName(name).setExpectedVersion(expectedVersion).build()));
    return new dev.lethe.store.ModelDeletion.Deleted(r.getName(), (int) r.getVersionsDeleted(),
        (int) r.getFishersDeleted(), r.getLedgerEntriesKept());
  }

  /** Loss, accuracy and AUC of a version (0 = active) on labelled samples. */
  public Evaluation evaluate(String name, long version, Samples batch) {
    return ModelMessages.evaluation(Calls.call(() -> blocking.evaluate(EvaluateRequest.newBuilder()
        .setName(name).setVersion(version).setSamples(SampleMessages.batch(batch)).build())));
  }

  /**
   * Per-sample losses and gradient norms (and with {@code full} the [N, P] gradients) of a
   * version (0 = active).
   */
  public GradientResult gradients(String name, long version, Samples batch, boolean full) {
    return ModelMessages.gradients(Calls.call(() -> blocking.gradients(GradientsRequest.newBuilder()
        .setName(name).setVersion(version).setSamples(SampleMessages.batch(batch)).setFull(full)
        .build())));
  }

  /**
   * Erases samples by one SSSE step (the server's Eraser); returns what the server did, stage
   * timings included.
   */
  public EraseOutcome erase(EraseCommand command) {
    return EraseMessages.outcome(Calls.call(() -> blocking.erase(EraseMessages.request(command))));
  }

  /**
   * Chooses ε on held-out data without erasing (CalibrateScale); with {@code apply} writes it
   * into the spec (needs a write token).
   *
   * @throws RemoteException with the server's status when refused (nothing changed)
   */
  public dev.lethe.erase.ScaleCalibration.Result calibrateScale(
      dev.lethe.erase.ScaleCalibration.Request request) {
    return dev.lethe.grpc.CalibrationMessages.result(Calls.call(() ->
        blocking.calibrateScale(dev.lethe.grpc.CalibrationMessages.message(request))));
  }

  /**
   * Builds and attaches a Fisher by one BuildFisher stream: {@code options}, then every batch of
   * {@code batches}, which is consumed lazily and sent only while the transport is ready, so a
   * large training set is never buffered whole. Blocks until the server has stored the Fisher.
   *
   * @param onProgress called with each progress message, on a gRPC thread (keep it short)
   * @return the last progress message, whose summary describes the stored Fisher
   * @throws RemoteException with the server's status when the build fails (nothing is stored)
   */
  public FisherProgress buildFisher(FisherRequest options, Iterator<Samples> batches,
      Consumer<FisherProgress> onProgress) {
    Iterator<BuildFisherRequest> messages = new Iterator<>() {
      private boolean optionsSent;

      @Override
      public boolean hasNext() {
        return !optionsSent || batches.hasNext();
      }

      @Override
      public BuildFisherRequest next() {
        if (!optionsSent) {
          optionsSent = true;
          return BuildFisherRequest.newBuilder().setOptions(FisherMessages.options(options)).build();
        }
        return BuildFisherRequest.newBuilder().setSamples(SampleMessages.batch(batches.next())).build();
      }
    };
    return new FisherStream<BuildFisherRequest>(onProgress).run(async::buildFisher, messages);
  }

  /**
   * Finishes and attaches a Fisher from sums computed elsewhere by one PutFisherSums stream: the
   * header, every block of {@code blocks} (consumed lazily, in chunks, sent only while the
   * transport is ready), then the gradient sum when the header announces it. Blocks until the
   * server has stored the Fisher.
   *
   * @param gradientSum Σ∇l_i (P doubles) when {@code header.gradientMoments()}, else null
   * @param onProgress called with each progress message, on a gRPC thread (keep it short)
   * @throws RemoteException with the server's status when it refuses the sums (nothing attached)
   */
  public FisherProgress putFisherSums(FisherSums.Header header, Iterator<FisherSums.Block> blocks,
      double[] gradientSum, Consumer<FisherProgress> onProgress) {
    return putFisherSums(header, blocks, gradientSum, java.util.Collections.emptyIterator(),
        onProgress);
  }

  /**
   * As above, for a KFAC/EKFAC header: after the other parameters' blocks and the gradient sum,
   * each dense layer's parts ({@code layerParts}, streamed one at a time).
   */
  public FisherProgress putFisherSums(FisherSums.Header header, Iterator<FisherSums.Block> blocks,
      double[] gradientSum, Iterator<FisherSums.LayerPart> layerParts,
      Consumer<FisherProgress> onProgress) {
    Iterator<PutFisherSumsRequest> messages = new Iterator<>() {
      private final java.util.ArrayDeque<PutFisherSumsRequest> queue = new java.util.ArrayDeque<>(
          List.of(FisherSumsMessages.header(header)));
      private boolean gradientQueued = gradientSum == null;

      @Override
      public boolean hasNext() {
        refill();
        return !queue.isEmpty();
      }

      @Override
      public PutFisherSumsRequest next() {
        refill();
        return queue.remove();
      }

      private void refill() {
        if (!queue.isEmpty()) {
          return;
        }
        if (blocks.hasNext()) {
          FisherSums.Block b = blocks.next();
          queue.addAll(FisherSumsMessages.block(b.index(), b.packedUpper()));
        } else if (!gradientQueued) {
          gradientQueued = true;
          queue.addAll(FisherSumsMessages.gradientSum(gradientSum));
        } else if (layerParts.hasNext()) {
          FisherSums.LayerPart p = layerParts.next();
          queue.addAll(FisherSumsMessages.kronecker(p.layer(), p.part(), p.values()));
        }
      }
    };
    return new FisherStream<PutFisherSumsRequest>(onProgress).run(async::putFisherSums, messages);
  }

  /** One page of a model's erasure ledger ({@code pageToken} "" for the first). */
  public EraseLedger.Page listErasures(String name, int pageSize, String pageToken) {
    return EraseMessages.page(Calls.call(() -> blocking.listErasures(ListErasuresRequest.newBuilder()
        .setName(name).setPageSize(pageSize).setPageToken(pageToken).build())));
  }

  /** Whether each id is erased from the model's active version, and by which erase. */
  public List<ErasureCheck> checkErasure(String name, List<String> ids) {
    return EraseMessages.checks(Calls.call(() -> blocking.checkErasure(
        CheckErasureRequest.newBuilder().setName(name).addAllIds(ids).build())));
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdown();
    if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
      channel.shutdownNow();
    }
  }
}
