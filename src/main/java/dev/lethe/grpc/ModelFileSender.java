package dev.lethe.grpc;

import com.google.protobuf.UnsafeByteOperations;
import dev.lethe.api.v1.ModelChunk;
import dev.lethe.store.ModelFile;
import io.grpc.stub.ServerCallStreamObserver;
import java.io.IOException;

/**
 * Streams a model file with flow control: sends the header, then chunks only while the
 * transport is ready, resuming from the on-ready callback, so a slow client never makes the
 * server buffer the whole file. Owns the file and closes it when done, failed or cancelled.
 * gRPC runs the callbacks serially.
 */
final class ModelFileSender implements Runnable {
  private final ServerCallStreamObserver<ModelChunk> call;
  private final ModelFile file;
  private final int chunkSize;
  private boolean headerSent;
  private boolean finished;

  ModelFileSender(ServerCallStreamObserver<ModelChunk> call, ModelFile file, int chunkSize) {
    this.call = call;
    this.file = file;
    this.chunkSize = chunkSize;
  }

  void start() {
    call.setOnCancelHandler(this::close);
    call.setOnReadyHandler(this);
  }

  @Override
  public void run() {
    try {
      while (!finished && call.isReady()) {
        if (!headerSent) {
          call.onNext(ModelChunk.newBuilder()
              .setHeader(ModelChunk.Header.newBuilder()
                  .setName(file.name())
                  .setVersion(file.version())
                  .setSizeBytes(file.sizeBytes())
                  .setSha256(file.sha256()))
              .build());
          headerSent = true;
          continue;
        }
        // A fresh array per chunk is handed to protobuf without another copy.
        byte[] buffer = new byte[chunkSize];
        int n = file.content().readNBytes(buffer, 0, chunkSize);
        if (n > 0) {
          call.onNext(ModelChunk.newBuilder()
              .setChunk(UnsafeByteOperations.unsafeWrap(buffer, 0, n)).build());
        }
        if (n < chunkSize) {
          close();
          call.onCompleted();
        }
      }
    } catch (IOException | RuntimeException e) {
      close();
      call.onError(Errors.toStatus(e));
    }
  }

  private void close() {
    if (!finished) {
      finished = true;
      try {
        file.close();
      } catch (IOException e) {
        // The stream only holds a storage snapshot; nothing to recover.
      }
    }
  }
}
