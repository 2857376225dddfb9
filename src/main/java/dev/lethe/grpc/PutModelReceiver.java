package dev.lethe.grpc;

import com.google.protobuf.ByteString;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.PutModelRequest;
import dev.lethe.core.LetheException;
import dev.lethe.core.ModelConfig;
import dev.lethe.store.ModelStore;
import dev.lethe.store.SpecValidator;
import io.grpc.stub.StreamObserver;
import java.util.function.Consumer;

/**
 * Receives one PutModel stream: the spec (checked at once), then chunks (size-limited as they
 * arrive), then registers the model on completion. After the first error it ignores the rest of
 * the stream; nothing is written before completion. gRPC calls it serially.
 */
final class PutModelReceiver extends StreamReceiver<PutModelRequest, ModelInfo> {
  private final ModelStore store;
  private final Consumer<ModelInfo> onRegistered;
  private ModelConfig spec;
  private boolean trainedWithoutErased;
  private ByteString file = ByteString.EMPTY;

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
        long size = (long) file.size() + request.getChunk().size();
        if (size > store.config().maxModelBytes()) {
          throw LetheException.tooLarge("chunk", "upload exceeds the limit of "
              + store.config().maxModelBytes() + " bytes (--max-model-bytes)");
        }
        file = file.concat(request.getChunk());
      }
      default -> throw LetheException.invalid("part", "each message must set spec or chunk");
    }
  }

  @Override
  void complete() {
    if (spec == null) {
      throw LetheException.invalid("spec", "required: the stream had no spec");
    }
    if (file.isEmpty()) {
      throw LetheException.invalid("chunk", "required: the stream had no ONNX bytes");
    }
    byte[] bytes = file.toByteArray();
    file = ByteString.EMPTY;
    ModelInfo info = ModelMessages.info(store.put(spec, bytes, trainedWithoutErased));
    onRegistered.accept(info);
    response.onNext(info);
    response.onCompleted();
  }

  @Override
  void release() {
    file = ByteString.EMPTY;
  }
}
