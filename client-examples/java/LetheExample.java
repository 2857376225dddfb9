import com.google.protobuf.ByteString;
import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.BuildFisherRequest;
import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.EvaluateRequest;
import dev.lethe.api.v1.EvaluateResponse;
import dev.lethe.api.v1.FisherOptions;
import dev.lethe.api.v1.GetModelRequest;
import dev.lethe.api.v1.Loss;
import dev.lethe.api.v1.ModelChunk;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelSpec;
import dev.lethe.api.v1.ModelStoreGrpc;
import dev.lethe.api.v1.PutModelRequest;
import dev.lethe.api.v1.SampleBatch;
import dev.lethe.api.v1.Tensor;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;

/**
 * Lethe from Java with the generated stubs: upload a model, evaluate it, build its Fisher, erase
 * samples, fetch the new version.
 *
 * <p>Run (the stubs and gRPC come from the Lethe jar):
 * {@code java -cp target/lethe.jar client-examples/java/LetheExample.java 127.0.0.1:50051 digits.csv.gz}
 */
public final class LetheExample {
  static List<float[]> features = new ArrayList<>();
  static List<Long> labels = new ArrayList<>();

  static SampleBatch batch(int from, int to) {
    SampleBatch.Builder b = SampleBatch.newBuilder();
    Tensor.Builder x = Tensor.newBuilder().addDims(to - from).addDims(64);
    Tensor.Builder y = Tensor.newBuilder().addDims(to - from);
    for (int i = from; i < to; i++) {
      b.addIds("digits:" + i);
      for (float f : features.get(i)) {
        x.addFloatData(f);
      }
      y.addInt64Data(labels.get(i));
    }
    return b.putInputs("pixels", x.build()).setLabels(y).build();
  }

  static byte[] download(ModelStoreGrpc.ModelStoreBlockingStub store, String name, long[] version)
      throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Iterator<ModelChunk> it = store.getModel(GetModelRequest.newBuilder().setName(name).build());
    ModelChunk.Header header = it.next().getHeader();
    it.forEachRemaining(c -> out.writeBytes(c.getChunk().toByteArray()));
    byte[] bytes = out.toByteArray();
    String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    if (!sha.equals(header.getSha256())) {
      throw new IllegalStateException("download corrupt");
    }
    version[0] = header.getVersion();
    return bytes;
  }

  public static void main(String[] args) throws Exception {
    String target = args.length > 0 ? args[0] : "127.0.0.1:50051";
    Path data = Path.of(args.length > 1 ? args[1] : "digits.csv.gz");
    String name = "digits-java";
    int n = 200;
    try (BufferedReader r = new BufferedReader(new InputStreamReader(
        new GZIPInputStream(Files.newInputStream(data))))) {
      for (String line; (line = r.readLine()) != null && features.size() < n; ) {
        String[] v = line.split(",");
        float[] f = new float[64];
        for (int j = 0; j < 64; j++) {
          f[j] = Float.parseFloat(v[j]);
        }
        features.add(f);
        labels.add((long) Float.parseFloat(v[64]));
      }
    }
    ManagedChannel channel = ManagedChannelBuilder.forTarget(target).usePlaintext().build();
    try {
      ModelStoreGrpc.ModelStoreBlockingStub store = ModelStoreGrpc.newBlockingStub(channel);
      ModelStoreGrpc.ModelStoreStub async = ModelStoreGrpc.newStub(channel);

      // 1. Fetch the demo model and upload it as our own (client stream: spec, then chunks).
      byte[] onnx = download(store, "digits", new long[1]);
      // Idempotent: a second run finds the model (and its erasure) and uses it as it is.
      ModelInfo info = store.listModels(dev.lethe.api.v1.ListModelsRequest.getDefaultInstance())
          .getModelsList().stream().filter(m -> m.getName().equals(name)).findFirst().orElse(null);
      if (info != null) {
        System.out.println("found " + name + " version " + info.getActiveVersion()
            + " (an earlier run)");
      } else {
        CompletableFuture<ModelInfo> put = new CompletableFuture<>();
        StreamObserver<PutModelRequest> up = async.putModel(observer(put));
        up.onNext(PutModelRequest.newBuilder().setSpec(ModelSpec.newBuilder().setName(name)
            .setLoss(Loss.SOFTMAX_CROSS_ENTROPY).setLogitsOutput("logits").setTrainSize(n)
            .setL2(1e-3)).build());
        up.onNext(PutModelRequest.newBuilder().setChunk(ByteString.copyFrom(onnx)).build());
        up.onCompleted();
        info = put.get(60, TimeUnit.SECONDS);
        System.out.println("uploaded " + info.getName() + " version " + info.getActiveVersion());
      }

      // 2. Evaluate.
      EvaluateResponse ev = store.evaluate(EvaluateRequest.newBuilder().setName(name)
          .setSamples(batch(0, n)).build());
      System.out.printf("accuracy %.4f, mean loss %.4f%n", ev.getAccuracy(), ev.getMeanLoss());

      // 3. Build the Fisher (once): options, then batches; progress streams back.
      if (info.getFisherReady()) {
        System.out.println("fisher " + info.getFisher().getFisherId() + " of "
            + info.getFisher().getSamples() + " samples (an earlier run)");
      } else {
        CompletableFuture<BuildFisherProgress> built = new CompletableFuture<>();
        StreamObserver<BuildFisherRequest> fisher = async.buildFisher(new StreamObserver<>() {
          BuildFisherProgress last;

          @Override
          public void onNext(BuildFisherProgress p) {
            last = p;
          }

          @Override
          public void onError(Throwable t) {
            built.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            built.complete(last);
          }
        });
        fisher.onNext(BuildFisherRequest.newBuilder()
            .setOptions(FisherOptions.newBuilder().setName(name).setSamples(n)).build());
        fisher.onNext(BuildFisherRequest.newBuilder().setSamples(batch(0, 100)).build());
        fisher.onNext(BuildFisherRequest.newBuilder().setSamples(batch(100, n)).build());
        fisher.onCompleted();
        BuildFisherProgress done = built.get(120, TimeUnit.SECONDS);
        System.out.println("fisher " + done.getSummary().getFisherId() + " blocks "
            + done.getSummary().getBlocks());
      }

      // 4. Erase three samples.
      EraseResponse erased = store.erase(EraseRequest.newBuilder().setName(name)
          .setRequestId("java-example-1").setSamples(batch(0, 3)).build());
      System.out.println("erased " + erased.getErased() + " -> version " + erased.getVersion());
      if (erased.getErased() != 3 || erased.getVersion() != 2) {
        throw new IllegalStateException("unexpected erase response " + erased);
      }

      // 5. Fetch the new version.
      long[] version = new long[1];
      byte[] v2 = download(store, name, version);
      System.out.println("fetched version " + version[0] + " " + v2.length + " bytes");
      if (version[0] != 2) {
        throw new IllegalStateException("expected version 2");
      }

      // 6. A bad request gets a clear status.
      try {
        store.evaluate(EvaluateRequest.newBuilder().setName("no-such-model").setSamples(batch(0, 1)).build());
        throw new IllegalStateException("expected NOT_FOUND");
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.NOT_FOUND) {
          throw e;
        }
        System.out.println("unknown model -> NOT_FOUND");
      }
      System.out.println("java example: OK");
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  static <T> StreamObserver<T> observer(CompletableFuture<T> f) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T v) {
        f.complete(v);
      }

      @Override
      public void onError(Throwable t) {
        f.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    };
  }
}
