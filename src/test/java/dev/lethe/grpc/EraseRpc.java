package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.BuildFisherRequest;
import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.Erasure;
import dev.lethe.api.v1.FisherOptions;
import dev.lethe.api.v1.GetModelRequest;
import dev.lethe.api.v1.ListErasuresRequest;
import dev.lethe.api.v1.ListErasuresResponse;
import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.ModelChunk;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelStoreGrpc;
import dev.lethe.api.v1.PutModelRequest;
import dev.lethe.api.v1.VersionInfo;
import dev.lethe.core.Batches;
import dev.lethe.core.Samples;
import dev.lethe.store.LedgerKeys;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/** gRPC helpers shared by the Erase acceptance tests; every call waits at most a minute. */
final class EraseRpc {
  static final long TIMEOUT_S = 60;

  private EraseRpc() {}

  /** A plaintext Netty channel to a loopback port. */
  static ManagedChannel loopback(int port) {
    return NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
  }

  /** Registers a model (spec, then one chunk) and waits for its info. */
  static ModelInfo put(ModelStoreGrpc.ModelStoreStub async, dev.lethe.core.ModelConfig spec,
      byte[] onnx) throws Exception {
    CompletableFuture<ModelInfo> result = new CompletableFuture<>();
    StreamObserver<PutModelRequest> up = async.putModel(observer(result));
    up.onNext(ServerHarness.spec(ModelMessages.spec(spec)));
    up.onNext(ServerHarness.chunk(onnx));
    up.onCompleted();
    return await(result);
  }

  /** Streams BuildFisher (options, then the batch in two messages); returns the last progress. */
  static BuildFisherProgress buildFisher(ModelStoreGrpc.ModelStoreStub async, String name,
      Samples train) throws Exception {
    int half = train.size() / 2;
    return buildFisher(async, name, Batches.range(train, 0, half), Batches.range(train, half, train.size()));
  }

  /** As {@link #buildFisher(ModelStoreGrpc.ModelStoreStub, String, Samples)}, one message per part. */
  static BuildFisherProgress buildFisher(ModelStoreGrpc.ModelStoreStub async, String name,
      Samples... parts) throws Exception {
    return buildFisher(async, FisherOptions.newBuilder().setName(name).setBlockSize(10)
        .setFisherKind(dev.lethe.api.v1.FisherKind.EMPIRICAL).build(), parts);
  }

  /** BuildFisher with {@code options}, then one samples message per part; asserts it finished. */
  static BuildFisherProgress buildFisher(ModelStoreGrpc.ModelStoreStub async, FisherOptions options,
      Samples... parts) throws Exception {
    CompletableFuture<BuildFisherProgress> done = new CompletableFuture<>();
    StreamObserver<BuildFisherRequest> up = async.buildFisher(new StreamObserver<>() {
      BuildFisherProgress last;

      @Override
      public void onNext(BuildFisherProgress value) {
        last = value;
      }

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        done.complete(last);
      }
    });
    up.onNext(BuildFisherRequest.newBuilder().setOptions(options).build());
    for (Samples part : parts) {
      up.onNext(BuildFisherRequest.newBuilder().setSamples(SampleMessages.batch(part)).build());
    }
    up.onCompleted();
    BuildFisherProgress last = await(done);
    assertTrue(last.getDone(), last.toString());
    assertEquals(java.util.Arrays.stream(parts).mapToLong(Samples::size).sum(), last.getSamplesSeen());
    return last;
  }

  /** An Erase request for the given rows of {@code train}. */
  static EraseRequest erase(String name, String requestId, Samples train, int... rows) {
    return EraseRequest.newBuilder().setName(name).setRequestId(requestId)
        .setSamples(SampleMessages.batch(Batches.rows(train, rows))).build();
  }

  /** The response with its timings cleared: a replay returns the first response's content. */
  static EraseResponse withoutTimings(EraseResponse r) {
    return r.toBuilder().clearTimings().build();
  }

  /** A downloaded ONNX file, its header and the sha256 of the bytes received. */
  record Download(ModelChunk.Header header, byte[] bytes, String sha256) {}

  static Download download(ModelStoreGrpc.ModelStoreBlockingStub blocking, String name,
      long version, int chunkSize) {
    Iterator<ModelChunk> it = blocking.withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS).getModel(
        GetModelRequest.newBuilder().setName(name).setVersion(version).setChunkSize(chunkSize).build());
    ModelChunk first = it.next();
    assertTrue(first.hasHeader(), "the first message is the header");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    while (it.hasNext()) {
      ModelChunk c = it.next();
      assertTrue(!c.hasHeader(), "one header per stream");
      out.writeBytes(c.getChunk().toByteArray());
    }
    byte[] bytes = out.toByteArray();
    return new Download(first.getHeader(), bytes, sha256(bytes));
  }

  /** Downloads a version and checks it is whole: size and sha256 as its header says. */
  static Download checkedDownload(ModelStoreGrpc.ModelStoreBlockingStub blocking, String name,
      long version, int chunkSize) {
    Download d = download(blocking, name, version, chunkSize);
    assertEquals(d.header().getSizeBytes(), d.bytes().length, "size of version " + d.header().getVersion());
    assertEquals(d.header().getSha256(), d.sha256(), "sha256 of version " + d.header().getVersion());
    return d;
  }

  static ModelInfo info(ModelStoreGrpc.ModelStoreBlockingStub blocking, String name) {
    return blocking.withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS)
        .listModels(ListModelsRequest.getDefaultInstance()).getModelsList().stream()
        .filter(m -> m.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("model " + name + " not listed"));
  }

  static VersionInfo version(ModelInfo info, long version) {
    return info.getVersionsList().stream().filter(v -> v.getVersion() == version).findFirst()
        .orElseThrow(() -> new AssertionError("version " + version + " not kept: " + info));
  }

  /** Every ledger event of a model, through all pages (small pages, so paging is exercised). */
  static List<Erasure> ledger(ModelStoreGrpc.ModelStoreBlockingStub blocking, String name) {
    List<Erasure> out = new ArrayList<>();
    String token = "";
    do {
      ListErasuresResponse page = blocking.withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS)
          .listErasures(ListErasuresRequest.newBuilder().setName(name).setPageSize(37)
              .setPageToken(token).build());
      out.addAll(page.getErasuresList());
      token = page.getNextPageToken();
    } while (!token.isEmpty());
    return out;
  }

  /** The ledger key of {@code id} in the store at {@code dataDir} (HMAC under its secret). */
  static String idKey(java.nio.file.Path dataDir, String id) {
    return LedgerKeys.inDataDir(dataDir).key(id);
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static <T> StreamObserver<T> observer(CompletableFuture<T> result) {
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
        if (!result.isDone()) {
          result.completeExceptionally(new AssertionError("completed without a message"));
        }
      }
    };
  }

  static <T> T await(CompletableFuture<T> f) throws Exception {
    try {
      return f.get(TIMEOUT_S, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof StatusRuntimeException s) {
        throw s;
      }
      throw e;
    }
  }

  /**
   * The erasable weights W1, b1, W2, b2 of the fixture MLP's served file of {@code version}, in
   * spec order (27 floats).
   */
  static float[] mlpWeights(ModelStoreGrpc.ModelStoreBlockingStub blocking, String name,
      long version) throws Exception {
    return mlpWeights(blocking, name, version, 27);
  }

  /** W1, b1, W2, b2 of an MLP of {@code count} parameters, concatenated, at {@code version}. */
  static float[] mlpWeights(ModelStoreGrpc.ModelStoreBlockingStub blocking, String name,
      long version, int count) throws Exception {
    ai.onnx.proto.OnnxMl.ModelProto m = ai.onnx.proto.OnnxMl.ModelProto.parseFrom(
        download(blocking, name, version, 0).bytes());
    float[] theta = new float[count];
    int off = 0;
    for (String p : List.of("W1", "b1", "W2", "b2")) {
      ai.onnx.proto.OnnxMl.TensorProto t = m.getGraph().getInitializerList().stream()
          .filter(x -> x.getName().equals(p)).findFirst().orElseThrow();
      var f = java.nio.ByteBuffer.wrap(t.getRawData().toByteArray())
          .order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
      int len = f.remaining();
      f.get(theta, off, len);
      off += len;
    }
    return theta;
  }

  /**
   * {@code n} random samples of a model's declared inputs (Gaussian floats, token ids below
   * {@code vocab}; {@code length} for every symbolic dimension after the batch), ids "s0"…,
   * labels over its classes.
   */
  static Samples randomSamples(ModelInfo info, java.util.Random rnd, int n, int vocab, long length) {
    java.util.Map<String, dev.lethe.core.DenseTensor> inputs = new java.util.HashMap<>();
    for (dev.lethe.api.v1.InputInfo in : info.getInputsList()) {
      long[] dims = in.getDimsList().stream().mapToLong(Long::longValue).toArray();
      dims[0] = n;
      for (int i = 1; i < dims.length; i++) {
        dims[i] = dims[i] < 0 ? length : dims[i];
      }
      int count = 1;
      for (long d : dims) {
        count *= (int) d;
      }
      if (in.getElementType().equals("int64")) {
        long[] tokens = new long[count];
        for (int i = 0; i < count; i++) {
          tokens[i] = rnd.nextInt(vocab);
        }
        inputs.put(in.getName(), dev.lethe.core.DenseTensor.ofLongs(dims, tokens));
        continue;
      }
      float[] v = new float[count];
      for (int i = 0; i < count; i++) {
        v[i] = (float) rnd.nextGaussian();
      }
      inputs.put(in.getName(), dev.lethe.core.DenseTensor.ofFloats(dims, v));
    }
    long classes = info.getOutputDims(0);
    long[] y = new long[n];
    java.util.List<String> ids = new java.util.ArrayList<>();
    for (int i = 0; i < n; i++) {
      y[i] = rnd.nextInt((int) classes);
      ids.add("s" + i);
    }
    return new Samples(ids, inputs, dev.lethe.core.DenseTensor.ofLongs(new long[] {n}, y));
  }
}
