package dev.lethe.grpc;

import com.google.protobuf.ByteString;
import dev.lethe.api.v1.ModelInfo;
import dev.lethe.api.v1.PutModelRequest;
import dev.lethe.core.LetheException;
import dev.lethe.core.ModelConfig;
import dev.lethe.store.ModelStore;
import dev.lethe.store.SpecValidator;
import io.grpc.stub.StreamObserver;

/**
 * Receives one PutModel stream: the spec (checked at once), then chunks (size-limited as they
 * arrive), then registers the model on completion. After the first error it ignores the rest of
 * the stream. gRPC calls it serially.
 */
final class PutModelReceiver implements StreamObserver<PutModelRequest> {
  private final ModelStore store;
  private final StreamObserver<ModelInfo> response;
  private ModelConfig spec;
  private ByteString file = ByteString.EMPTY;
  private final java.util.function.Consumer<ModelInfo> onRegistered;
  private boolean failed;

  PutModelReceiver(ModelStore store, StreamObserver<ModelInfo> response,
      java.util.function.Consumer<ModelInfo> onRegistered) {
    this.store = store;
    this.response = response;
    this.onRegistered = onRegistered;
  }

  @Override
  public void onNext(PutModelRequest request) {
    if (failed) {
      return;
    }
    try {
      switch (request.getPartCase()) {
        case SPEC -> {
          if (spec != null) {
            throw LetheException.invalid("spec", "sent twice; send it once, first");
          }
          ModelConfig s = ProtoConvert.spec(request.getSpec());
          SpecValidator.check(s);
          spec = s;
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
    } catch (RuntimeException e) {
      fail(e);
    }
  }

  @Override
  public void onError(Throwable t) {
    failed = true; // client cancelled; nothing was written
  }

  @Override
  public void onCompleted() {
    if (failed) {
      return;
    }
    try {
      if (spec == null) {
        throw LetheException.invalid("spec", "required: the stream had no spec");
      }
      if (file.isEmpty()) {
        throw LetheException.invalid("chunk", "required: the stream had no ONNX bytes");
      }
      byte[] bytes = file.toByteArray();
      file = ByteString.EMPTY;
      ModelInfo info = ProtoConvert.info(store.put(spec, bytes));
      onRegistered.accept(info);
      response.onNext(info);
      response.onCompleted();
    } catch (RuntimeException e) {
      fail(e);
    }
  }

  private void fail(RuntimeException e) {
    failed = true;
    file = ByteString.EMPTY;
    response.onError(Errors.toStatus(e));
  }
}
