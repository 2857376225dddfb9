package dev.lethe.grpc;

import dev.lethe.api.v1.BuildFisherProgress;
import dev.lethe.api.v1.BuildFisherRequest;
import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.EraseResponse;
import dev.lethe.api.v1.EvaluateRequest;
import dev.lethe.api.v1.EvaluateResponse;
import dev.lethe.api.v1.GetModelRequest;
import dev.lethe.api.v1.GradientsRequest;
import dev.lethe.api.v1.GradientsResponse;
import dev.lethe.api.v1.CalibrateScaleRequest;
import dev.lethe.api.v1.CalibrateScaleResponse;
import dev.lethe.api.v1.CheckErasureRequest;
import dev.lethe.api.v1.CheckErasureResponse;
import dev.lethe.api.v1.DeleteModelRequest;
import dev.lethe.api.v1.DeleteModelResponse;
import dev.lethe.api.v1.UpdateSpecRequest;
import dev.lethe.api.v1.ListErasuresRequest;
import dev.lethe.api.v1.ListErasuresResponse;
import dev.lethe.api.v1.ListModelsRequest;
import dev.lethe.api.v1.ListModelsResponse;
import dev.lethe.api.v1.ModelChunk;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.ModelStoreGrpc;
import dev.lethe.api.v1.PutFisherSumsRequest;
import dev.lethe.api.v1.PutModelRequest;
import dev.lethe.api.v1.SetActiveVersionRequest;
import dev.lethe.api.v1.SetScaleRequest;
import dev.lethe.api.v1.WatchModelRequest;
import dev.lethe.core.LetheException;
import dev.lethe.core.EraseOutcome;
import dev.lethe.erase.Eraser;
import dev.lethe.erase.ScaleCalibration;
import dev.lethe.fisher.FisherBuild;
import dev.lethe.fisher.FisherRequest;
import dev.lethe.fisher.FisherSums;
import dev.lethe.metrics.LetheMetrics;
import dev.lethe.store.ModelFile;
import dev.lethe.store.ModelState;
import dev.lethe.store.ModelStore;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The ModelStore gRPC service: translates requests to {@link ModelStore} calls and results or
 * failures back; no domain logic here. Thread-safe (the store is).
 */
public final class ModelStoreService extends ModelStoreGrpc.ModelStoreImplBase {
  /** Default and largest GetModel chunk sizes. */
  static final int DEFAULT_CHUNK = 1 << 20;
  static final int MAX_CHUNK = (4 << 20) - 1024;

  private final ModelStore store;
  private final Eraser eraser;
  private final Function<FisherRequest, FisherBuild> fisherBuilds;
  private final Function<FisherSums.Header, FisherSums> fisherSums;
  private final long maxResponseBytes;
  private final LetheMetrics metrics;
  private final int maxWatchBehind;

  /** With the default watch limit (1000 changes). */
  public ModelStoreService(ModelStore store, Eraser eraser,
      Function<FisherRequest, FisherBuild> fisherBuilds, long maxResponseBytes,
      LetheMetrics metrics) {
    this(store, eraser, fisherBuilds, maxResponseBytes, metrics, 1000);
  }

  /** Without PutFisherSums (answered UNIMPLEMENTED). */
  public ModelStoreService(ModelStore store, Eraser eraser,
      Function<FisherRequest, FisherBuild> fisherBuilds, long maxResponseBytes,
      LetheMetrics metrics, int maxWatchBehind) {
    this(store, eraser, fisherBuilds, header -> {
      throw new LetheException(LetheException.Kind.UNIMPLEMENTED, "this server takes no Fisher sums");
    }, maxResponseBytes, metrics, maxWatchBehind);
  }

  /**
   * @param fisherBuilds starts a Fisher build for a request's options
   * @param fisherSums starts finishing a Fisher from sums (PutFisherSums) for their header
   * @param maxResponseBytes largest Gradients response (the [N, P] matrix) served
   * @param metrics where erases, builds, gradients and model versions are recorded
   * @param maxWatchBehind changes a WatchModel subscriber may fall behind before it is cancelled
   */
  public ModelStoreService(ModelStore store, Eraser eraser,
      Function<FisherRequest, FisherBuild> fisherBuilds,
      Function<FisherSums.Header, FisherSums> fisherSums, long maxResponseBytes,
      LetheMetrics metrics, int maxWatchBehind) {
    this.store = store;
    this.fisherSums = fisherSums;
    this.eraser = eraser;
    this.fisherBuilds = fisherBuilds;
    this.maxResponseBytes = maxResponseBytes;
    this.metrics = metrics;
    this.maxWatchBehind = maxWatchBehind;
  }

  private void recordModel(String name) {
    ModelState info = store.info(name);
    metrics.model(name, info.versions().size(), info.activeVersion());
  }

  @Override
  public StreamObserver<PutModelRequest> putModel(StreamObserver<ModelInfo> response) {
    return new PutModelReceiver(store, response, info -> {
      metrics.model(info.getName(), info.getVersionsCount(), info.getActiveVersion());
      ChangeLog.uploaded(info);
    });
  }

  @Override
  public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> response) {
    unary(response, () -> {
      ListModelsResponse.Builder b = ListModelsResponse.newBuilder();
      store.list().forEach(m -> b.addModels(ModelMessages.info(m)));
      return b.build();
    });
  }

  @Override
  public void getModel(GetModelRequest request, StreamObserver<ModelChunk> response) {
    ModelFile file;
    try {
      int chunk = request.getChunkSize();
      if (chunk < 0 || chunk > MAX_CHUNK) {
        throw LetheException.invalid("chunk_size", "must be in [0, " + MAX_CHUNK + "], got " + chunk);
      }
      file = store.open(request.getName(), request.getVersion());
      new ModelFileSender((ServerCallStreamObserver<ModelChunk>) response, file,
          chunk == 0 ? DEFAULT_CHUNK : chunk).start();
    } catch (RuntimeException | OutOfMemoryError e) {
      response.onError(Errors.toStatus(e));
    }
  }

  @Override
  public void watchModel(WatchModelRequest request, StreamObserver<ModelInfo> response) {
    ServerCallStreamObserver<ModelInfo> call = (ServerCallStreamObserver<ModelInfo>) response;
    try {
      ModelWatcher watcher = new ModelWatcher(call, WATCH_SENDERS, request.getName(), maxWatchBehind);
      watcher.subscribed(store.watch(request.getName(), watcher));
    } catch (RuntimeException | OutOfMemoryError e) {
      response.onError(Errors.toStatus(e));
    }
  }

  /** Sends WatchModel states off the committing thread (sends never block: flow control). */
  private static final java.util.concurrent.ExecutorService WATCH_SENDERS =
      dev.lethe.core.DaemonThreads.pool("watch-send", 2);

  @Override
  public void setActiveVersion(SetActiveVersionRequest request, StreamObserver<ModelInfo> response) {
    unary(response, () -> {
      ModelInfo info = ModelMessages.info(
          store.setActive(request.getName(), request.getVersion(), request.getAllowUnerase()));
      metrics.model(info.getName(), info.getVersionsCount(), info.getActiveVersion());
      ChangeLog.activated(info, request.getAllowUnerase());
      return info;
    });
  }

  @Override
  public void setScale(SetScaleRequest request, StreamObserver<ModelInfo> response) {
    unary(response, () -> {
      ModelInfo info = ModelMessages.info(store.setScale(request.getName(), request.getScale()));
      ChangeLog.scaleSet(info);
      return info;
    });
  }

  @Override
  public void deleteModel(DeleteModelRequest request,
      StreamObserver<DeleteModelResponse> response) {
    unary(response, () -> {
      var d = store.delete(request.getName(), request.getExpectedVersion());
      metrics.model(d.name(), 0, 0);
      ChangeLog.deleted(d);
      return DeleteModelResponse.newBuilder().setName(d.name()).setVersionsDeleted(d.versions())
          .setFishersDeleted(d.fishers()).setLedgerEntriesKept(d.ledgerEntriesKept()).build();
    });
  }

  @Override
  public void updateSpec(UpdateSpecRequest request, StreamObserver<ModelInfo> response) {
    unary(response, () -> {
      ModelInfo info = ModelMessages.info(store.updateSpec(request.getName(),
          ModelMessages.config(request.getSpec()), request.getFieldsList()));
      ChangeLog.specUpdated(info, request.getFieldsList());
      return info;
    });
  }

  @Override
  public void evaluate(EvaluateRequest request, StreamObserver<EvaluateResponse> response) {
    unary(response, () -> ModelMessages.evaluateResponse(store.evaluate(request.getName(),
        request.getVersion(), SampleMessages.required(request.hasSamples(), request.getSamples()))));
  }

  @Override
  public void gradients(GradientsRequest request, StreamObserver<GradientsResponse> response) {
    // A full [N, P] matrix is held as floats, as the response message and as the transport's
    // serialized copy: concurrent ones wait for (or are refused) room in the response memory.
    long bytes = 0;
    try {
      bytes = request.getFull() ? 3L * request.getSamples().getIdsCount() * Float.BYTES
          * store.info(request.getName()).parameterCount() : 0;
    } catch (RuntimeException e) {
      // unknown model, bad name: answered below, by the store
    }
    if (bytes > maxResponseBytes * 3) {
      bytes = 0; // the store refuses it, naming the response limit
    }
    try (dev.lethe.core.MemoryPool.Reservation held = dev.lethe.core.Memory.responses()
        .reserve(bytes, "samples", "a full Gradients response of " + request.getSamples().getIdsCount()
            + " samples", 30_000)) {
      gradientsWithin(request, response);
    } catch (RuntimeException e) {
      response.onError(Errors.toStatus(e));
    }
  }

  private void gradientsWithin(GradientsRequest request, StreamObserver<GradientsResponse> response) {
    unary(response, () -> {
      ModelStore.Gradients g = store.gradients(request.getName(), request.getVersion(),
          SampleMessages.required(request.hasSamples(), request.getSamples()), request.getFull(),
          maxResponseBytes);
      metrics.gradients(request.getName(), g.result().size());
      return ModelMessages.gradientsResponse(g.version(), g.result());
    });
  }

  @Override
  public StreamObserver<BuildFisherRequest> buildFisher(
      StreamObserver<BuildFisherProgress> response) {
    return new BuildFisherReceiver(fisherBuilds, response, metrics);
  }

  @Override
  public StreamObserver<PutFisherSumsRequest> putFisherSums(
      StreamObserver<BuildFisherProgress> response) {
    return new FisherSumsReceiver(fisherSums, response, metrics);
  }

  @Override
  public void erase(EraseRequest request, StreamObserver<EraseResponse> response) {
    unary(response, () -> {
      EraseOutcome o = eraser.erase(EraseMessages.command(request));
      if (!request.getDryRun() && o.erased() > 0) {
        metrics.erase(request.getName(), o.erased(), o.timings().gradientsMs(),
            o.timings().solveMs(), o.timings().storeMs(), o.timings().swapMs());
        metrics.gradients(request.getName(), o.erased());
        recordModel(request.getName());
      }
      ChangeLog.erased(request.getName(), request.getRequestId(), request.getDryRun(),
          request.getDowndateFisher(), o);
      return EraseMessages.response(o);
    });
  }

  @Override
  public void calibrateScale(CalibrateScaleRequest request,
      StreamObserver<CalibrateScaleResponse> response) {
    unary(response, () -> {
      if (request.getApply() && !TokenAuthInterceptor.canWrite()) {
        throw new io.grpc.StatusRuntimeException(io.grpc.Status.PERMISSION_DENIED.withDescription(
            "authorization: this token is read-only; CalibrateScale with apply writes the spec"
            + " and needs a write token"));
      }
      return CalibrationMessages.response(new ScaleCalibration(eraser)
          .calibrate(CalibrationMessages.request(request)));
    });
  }

  @Override
  public void listErasures(ListErasuresRequest request,
      StreamObserver<ListErasuresResponse> response) {
    unary(response, () -> EraseMessages.erasures(store.listErasures(request.getName(),
        request.getPageSize(), request.getPageToken())));
  }

  @Override
  public void checkErasure(CheckErasureRequest request,
      StreamObserver<CheckErasureResponse> response) {
    unary(response, () -> EraseMessages.checks(
        store.checkErasure(request.getName(), request.getIdsList())));
  }

  private static <T> void unary(StreamObserver<T> response, Supplier<T> body) {
    T result;
    try {
      result = body.get();
    } catch (RuntimeException | OutOfMemoryError e) {
      response.onError(Errors.toStatus(e));
      return;
    }
    response.onNext(result);
    response.onCompleted();
  }

}
