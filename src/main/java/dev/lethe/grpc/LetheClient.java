package dev.lethe.grpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.BuildFisherRequest;
import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.FisherKind;
import dev.lethe.api.v1.FisherMethod;
import dev.lethe.api.v1.FisherOptions;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import dev.lethe.api.v1.EvaluateRequest;
import dev.lethe.api.v1.ListErasuresRequest;
import dev.lethe.api.v1.EvaluateResponse;
import dev.lethe.api.v1.GetModelRequest;
import dev.lethe.api.v1.GradientsRequest;
import dev.lethe.api.v1.GradientsResponse;
import dev.lethe.onnx.GradientResult;
import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.ModelChunk;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelStoreGrpc;
import dev.lethe.api.v1.PutModelRequest;
import dev.lethe.api.v1.SetActiveVersionRequest;
import dev.lethe.api.v1.SetScaleRequest;
import dev.lethe.api.v1.WatchModelRequest;
import dev.lethe.core.LossFunction;
import dev.lethe.core.ModelConfig;
import dev.lethe.onnx.InputSpec;
import java.util.List;
import dev.lethe.core.Samples;
import dev.lethe.erase.EraseCommand;
import dev.lethe.core.EraseOutcome;
import dev.lethe.fisher.FisherProgress;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.eval.Evaluation;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A blocking client of a Lethe server for the CLI and tools: takes domain types, returns domain
 * types or the JSON form of the API's messages (the form grpcurl prints). Failures are
 * {@link RemoteException}s with the status code. Owns its channel; close it. Thread-safe.
 */
public final class LetheClient implements AutoCloseable {
  private static final int CHUNK = 1 << 20;
  private final ManagedChannel channel;
  private final ModelStoreGrpc.ModelStoreBlockingStub blocking;
  private final ModelStoreGrpc.ModelStoreStub async;

  /** Plaintext connection to {@code target} (host:port). */
  public LetheClient(String target) {
    this(NettyChannelBuilder.forTarget(target).usePlaintext()
        .flowControlWindow(8 << 20)
        .maxInboundMessageSize(ServerLimits.CLIENT_MAX_INBOUND).build());
  }

  /**
   * A connection to {@code target} with TLS (when {@code security.tlsCa()} is set, mutual with a
   * client certificate) and a bearer token on every call (when set).
   */
  public static LetheClient connect(String target, ClientSecurity security) throws IOException {
    NettyChannelBuilder b = NettyChannelBuilder.forTarget(target)
        .flowControlWindow(8 << 20)
        .maxInboundMessageSize(ServerLimits.CLIENT_MAX_INBOUND);
    if (security.tlsCa() != null) {
      io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder ssl =
          io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts.forClient()
              .trustManager(security.tlsCa().toFile());
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
      io.grpc.Metadata headers = new io.grpc.Metadata();
      headers.put(TokenAuthInterceptor.AUTHORIZATION, "Bearer " + security.token());
      b.intercept(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers));
    }
    return new LetheClient(b.build());
  }

  LetheClient(ManagedChannel channel) {
    this.channel = channel;
    this.blocking = ModelStoreGrpc.newBlockingStub(channel);
    this.async = ModelStoreGrpc.newStub(channel);
  }

  /** Uploads a model; returns the ModelInfo as JSON. */
  public String putModel(ModelConfig spec, InputStream onnx) throws IOException {
    CompletableFuture<ModelInfo> result = new CompletableFuture<>();
    StreamObserver<PutModelRequest> upload = async.putModel(observer(result));
    upload.onNext(PutModelRequest.newBuilder().setSpec(ProtoConvert.spec(spec)).build());
    byte[] buffer = new byte[CHUNK];
    int n;
    while ((n = onnx.readNBytes(buffer, 0, CHUNK)) > 0 && !result.isDone()) {
      upload.onNext(PutModelRequest.newBuilder().setChunk(ByteString.copyFrom(buffer, 0, n)).build());
    }
    upload.onCompleted();
    return json(await(result));
  }

  /** What a client needs to build batches for a model. */
  public record ModelShape(String name, LossFunction loss, List<InputSpec> inputs, long[] outputDims) {}

  /** The loss, inputs and output shape of a registered model. */
  public ModelShape describe(String name) {
    ModelInfo info = call(() -> blocking.listModels(ListModelsRequest.getDefaultInstance()))
        .getModelsList().stream().filter(m -> m.getName().equals(name)).findFirst()
        .orElseThrow(() -> new RemoteException("NOT_FOUND", "model '" + name + "' is not registered", null));
    List<InputSpec> inputs = info.getInputsList().stream()
        .map(i -> new InputSpec(i.getName(), i.getElementType().equals("float"),
            i.getDimsList().stream().mapToLong(Long::longValue).toArray()))
        .toList();
    return new ModelShape(name, LossFunction.valueOf(info.getSpec().getLoss().name()), inputs,
        info.getOutputDimsList().stream().mapToLong(Long::longValue).toArray());
  }

  public String listModels() {
    return call(() -> json(blocking.listModels(ListModelsRequest.getDefaultInstance())));
  }

  /** The header of a downloaded file, after its sha256 was checked. */
  public record Download(String name, long version, long sizeBytes, String sha256) {}

  /**
   * Downloads a version (0 = active) to {@code out}, checking size and sha256.
   *
   * @throws IOException when the bytes do not match the header
   */
  public Download getModel(String name, long version, OutputStream out) throws IOException {
    MessageDigest md = dev.lethe.core.Sha256.digest();
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
      throw remote(e);
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

  /** Calls {@code onChange} with each ModelInfo JSON until the stream ends; blocks. */
  public void watch(String name, Consumer<String> onChange) {
    call(() -> {
      blocking.watchModel(WatchModelRequest.newBuilder().setName(name).build())
          .forEachRemaining(info -> onChange.accept(json(info)));
      return null;
    });
  }

  public String activate(String name, long version, boolean allowUnerase) {
    return call(() -> json(blocking.setActiveVersion(SetActiveVersionRequest.newBuilder()
        .setName(name).setVersion(version).setAllowUnerase(allowUnerase).build())));
  }

  /**
   * Sets ε, the scale of the SSSE step, in a model's spec (later erases use it); returns the spec
   * as the server now holds it.
   */
  public ModelConfig setScale(String name, double scale) {
    return ProtoConvert.spec(call(() -> blocking.setScale(SetScaleRequest.newBuilder()
        .setName(name).setScale(scale).build())).getSpec());
  }

  public Evaluation evaluate(String name, long version, Samples batch) {
    EvaluateResponse r = call(() -> blocking.evaluate(EvaluateRequest.newBuilder()
        .setName(name).setVersion(version).setSamples(ProtoConvert.batch(batch)).build()));
    float[] losses = new float[r.getLossesCount()];
    for (int i = 0; i < losses.length; i++) {
      losses[i] = r.getLosses(i);
    }
    return new Evaluation(losses, r.getMeanLoss(), r.getAccuracy(),
        r.getAucList().stream().mapToDouble(Double::doubleValue).toArray(), r.getVersion());
  }

  /**
   * Per-sample losses and gradient norms (and with {@code full} the [N, P] gradients) of a
   * version (0 = active).
   */
  public GradientResult gradients(String name, long version, Samples batch, boolean full) {
    GradientsResponse r = call(() -> blocking.gradients(GradientsRequest.newBuilder()
        .setName(name).setVersion(version).setSamples(ProtoConvert.batch(batch)).setFull(full)
        .build()));
    float[] losses = new float[r.getLossesCount()];
    float[] norms = new float[r.getNormsCount()];
    for (int i = 0; i < losses.length; i++) {
      losses[i] = r.getLosses(i);
      norms[i] = r.getNorms(i);
    }
    float[] g = null;
    long p = 0;
    if (r.hasGradients()) {
      p = r.getGradients().getDims(1);
      g = new float[r.getGradients().getFloatDataCount()];
      for (int i = 0; i < g.length; i++) {
        g[i] = r.getGradients().getFloatData(i);
      }
    }
    return new GradientResult(norms.length, p, losses, null, g, norms);
  }

  /** Erases samples; returns the EraseResponse as JSON. */
  public String erase(String name, String requestId, Samples samples, boolean dryRun,
      long expectedVersion, boolean downdateFisher) {
    return call(() -> json(blocking.erase(EraseRequest.newBuilder()
        .setName(name).setRequestId(requestId).setSamples(ProtoConvert.batch(samples))
        .setDryRun(dryRun).setExpectedVersion(expectedVersion).setDowndateFisher(downdateFisher)
        .build())));
  }

  /**
   * Erases samples (see {@link dev.lethe.erase.Eraser}) and returns the server's answer as the
   * domain outcome, stage timings included.
   */
  public EraseOutcome erase(EraseCommand command) {
    return call(() -> ProtoConvert.outcome(blocking.erase(EraseRequest.newBuilder()
        .setName(command.name()).setRequestId(command.requestId())
        .setSamples(ProtoConvert.batch(command.samples())).setDryRun(command.dryRun())
        .setExpectedVersion(command.expectedVersion())
        .setDowndateFisher(command.downdateFisher()).build())));
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
    CompletableFuture<FisherProgress> result = new CompletableFuture<>();
    Object ready = new Object();
    ClientResponseObserver<BuildFisherRequest, BuildFisherProgress> responses =
        new ClientResponseObserver<>() {
          private FisherProgress last;

          @Override
          public void beforeStart(ClientCallStreamObserver<BuildFisherRequest> requests) {
            requests.setOnReadyHandler(() -> {
              synchronized (ready) {
                ready.notifyAll();
              }
            });
          }

          @Override
          public void onNext(BuildFisherProgress value) {
            last = ProtoConvert.progress(value);
            onProgress.accept(last);
          }

          @Override
          public void onError(Throwable t) {
            result.completeExceptionally(t);
            synchronized (ready) {
              ready.notifyAll();
            }
          }

          @Override
          public void onCompleted() {
            if (last == null || !last.done()) {
              result.completeExceptionally(new IllegalStateException("the stream ended before the build was done"));
            } else {
              result.complete(last);
            }
          }
        };
    ClientCallStreamObserver<BuildFisherRequest> upload =
        (ClientCallStreamObserver<BuildFisherRequest>) async.buildFisher(responses);
    try {
      upload.onNext(BuildFisherRequest.newBuilder().setOptions(ProtoConvert.fisherOptions(options)).build());
      while (batches.hasNext() && !result.isDone()) {
        synchronized (ready) {
          while (!upload.isReady() && !result.isDone()) {
            ready.wait();
          }
        }
        if (!result.isDone()) {
          upload.onNext(BuildFisherRequest.newBuilder()
              .setSamples(ProtoConvert.batch(batches.next())).build());
        }
      }
      if (!result.isDone()) {
        upload.onCompleted();
      }
    } catch (InterruptedException e) {
      upload.cancel("interrupted", e);
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      upload.cancel("the client failed while sending", e);
      throw e;
    }
    return await(result);
  }

  /** One page of the ledger as JSON. */
  public String listErasures(String name, int pageSize, String pageToken) {
    return call(() -> json(blocking.listErasures(ListErasuresRequest.newBuilder()
        .setName(name).setPageSize(pageSize).setPageToken(pageToken).build())));
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdown();
    if (!channel.awaitTermination(5, TimeUnit.SECONDS)) {
      channel.shutdownNow();
    }
  }

  static String json(MessageOrBuilder message) {
    try {
      return JsonFormat.printer().print(message);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("API message not printable as JSON", e);
    }
  }

  private static <T> T call(Supplier<T> body) {
    try {
      return body.get();
    } catch (StatusRuntimeException e) {
      throw remote(e);
    }
  }

  private static <T> T await(CompletableFuture<T> future) {
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RemoteException("CANCELLED", "interrupted", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof StatusRuntimeException s) {
        throw remote(s);
      }
      throw new RemoteException("UNKNOWN", String.valueOf(e.getCause()), e.getCause());
    }
  }

  private static RemoteException remote(StatusRuntimeException e) {
    return new RemoteException(e.getStatus().getCode().name(),
        e.getStatus().getDescription() == null ? e.getStatus().toString() : e.getStatus().getDescription(), e);
  }

  private static <T> StreamObserver<T> observer(CompletableFuture<T> result) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {
        result.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        result.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        result.completeExceptionally(new IllegalStateException("no response"));
      }
    };
  }

}
