package dev.lethe.grpc;

import java.util.logging.Level;
import java.util.logging.Logger;
import io.grpc.stub.StreamObserver;

/**
 * A client-streaming request taken in as it arrives: each message goes to {@link #part}, the
 * end of the stream to {@link #complete}. The first failure is answered with its status and the
 * rest of the stream is ignored; a failure or a cancelled call {@link #release}s what the
 * stream had gathered. gRPC calls it serially; the error answer is sent under the receiver's
 * lock, which subclasses also hold for responses sent from other threads.
 *
 * @param <T> the request message
 * @param <R> the response message
 */
abstract class StreamReceiver<T, R> implements StreamObserver<T> {
  private static final Logger LOG = Logger.getLogger(StreamReceiver.class.getName());
  /** Where the answer goes. */
  protected final StreamObserver<R> response;
  private boolean failed;

  StreamReceiver(StreamObserver<R> response) {
    this.response = response;
  }

  /** Takes one message of the stream; throws to refuse the call. */
  abstract void part(T request);

  /** The client finished sending: does the work and answers; throws to refuse the call. */
  abstract void complete();

  /** Drops what the stream gathered (idempotent). */
  abstract void release();

  @Override
  public final void onNext(T request) {
    if (failed) {
      return;
    }
    try {
      part(request);
    } catch (RuntimeException | OutOfMemoryError e) {
      fail(e);
    }
  }

  @Override
  public final void onError(Throwable t) {
    failed = true; // the client cancelled
    try {
      release();
    } catch (RuntimeException cleanup) {
      LOG.log(Level.WARNING, "cleanup after a cancelled stream failed", cleanup);
    }
  }

  @Override
  public final void onCompleted() {
    if (failed) {
      return;
    }
    try {
      complete();
    } catch (RuntimeException | OutOfMemoryError e) {
      fail(e);
    }
  }

  /**
   * Answers the first failure (an out-of-memory one as RESOURCE_EXHAUSTED); a failing cleanup is
   * attached to it, never sent instead.
   */
  private void fail(Throwable e) {
    failed = true;
    try {
      release();
    } catch (RuntimeException cleanup) {
      e.addSuppressed(cleanup);
    }
    synchronized (this) {
      response.onError(Errors.toStatus(e));
    }
  }
}
