package dev.lethe.grpc;

import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.PutModelRequest;
import dev.lethe.core.LetheException;
import dev.lethe.core.ModelConfig;
import dev.lethe.store.ModelStore;
import dev.lethe.store.SpecValidator;
import dev.lethe.store.StagedUpload;
import io.grpc.stub.StreamObserver;
import java.util.function.Consumer;

/**
 * Receives one PutModel stream: the spec (checked at once), then chunks (size-limited as they
 * arrive, staged on disk, {@link StagedUpload}), then registers the model on completion. After the first error it ignores the rest of
 * the stream; nothing is written before completion. gRPC calls it serially.
 */
final class PutModelReceiver extends StreamReceiver<PutModelRequest, ModelInfo> {
  private final ModelStore store;
  private final Consumer<ModelInfo> onRegistered;
  private ModelConfig spec;
  private boolean trainedWithoutErased;
  private StagedUpload file;

  PutModelReceiver(ModelStore store, StreamObserver<ModelInfo> response,
      Consumer<ModelInfo> onRegistered) {
    super(response);
    this.store = store;
    this.onRegistered = onRegistered;
  }

  @Override
  void part(PutModelRequest request) {
    switch (request.getPartCase()) {
      case SPEC -> {
        if (spec != null) {
          throw LetheException.invalid("spec", "sent twice; send it once, first");
        }
        ModelConfig s = ModelMessages.config(request.getSpec());
        SpecValidator.check(s);
        spec = s;
        trainedWithoutErased = request.getSpec().getTrainedWithoutErased();
      }
      case CHUNK -> {
        if (spec == null) {
          throw LetheException.invalid("chunk", "sent before spec; the first message must be the spec");
        }
        if (file == null) {
          file = store.stage();
        }
        file.append(request.getChunk().asReadOnlyByteBuffer());
      }
      default -> throw LetheException.invalid("part", "each message must set spec or chunk");
    }
  }

  @Override
  void complete() {
    if (spec == null) {
      throw LetheException.invalid("spec", "required: the stream had no spec");
    }
    if (file == null || file.size() == 0) {
      throw LetheException.invalid("chunk", "required: the stream had no ONNX bytes");
    }
    ModelInfo info;
    try {
      info = ModelMessages.info(store.put(spec, file, trainedWithoutErased));
    } finally {
      release();
    }
    onRegistered.accept(info);
    response.onNext(info);
    response.onCompleted();
  }

  @Override
  void release() {
    if (file != null) {
      file.close();
      file = null;
    }
  }
}
