package dev.lethe.grpc;

import dev.lethe.api.v1.ModelInfo;
import dev.lethe.store.ModelState;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * One WatchModel subscriber: keeps only the newest state of the model (a subscriber needs the
 * current version, not every intermediate one) and sends it when the call is ready (gRPC flow
 * control, {@code isReady}), from the watch executor, never from the thread that committed the
 * change. A subscriber that has not taken a state while more than {@code maxBehind} changes were
 * published is cancelled with RESOURCE_EXHAUSTED; what it holds meanwhile is one state, whatever
 * the number of changes.
 *
 * <p>Thread-safety: {@link #accept} is called by the store under the model's lock and only
 * records the state and schedules a send (it never blocks and never does I/O); sends and the
 * cancelling error are made under this object's lock, one thread at a time, as the call's
 * observer requires.
 */
final class ModelWatcher implements Consumer<ModelState> {
  private static final Logger LOG = Logger.getLogger(ModelWatcher.class.getName());

  private final ServerCallStreamObserver<ModelInfo> call;
  private final Executor executor;
  private final String model;
  private final int maxBehind;
  private final AtomicReference<ModelState> pending = new AtomicReference<>();
  private final AtomicLong behind = new AtomicLong();
  private final AtomicBoolean scheduled = new AtomicBoolean();
  private volatile boolean done;
  private volatile AutoCloseable subscription;

  /**
   * Sets the call's ready and cancel handlers; call during the RPC's start, before
   * {@link #subscribed}.
   */
  ModelWatcher(ServerCallStreamObserver<ModelInfo> call, Executor executor, String model,
      int maxBehind) {
    this.call = call;
    this.executor = executor;
    this.model = model;
    this.maxBehind = maxBehind;
    call.setOnReadyHandler(this::schedule);
    call.setOnCancelHandler(() -> {
      done = true;
      unsubscribe();
    });
  }

  /** The store's handle for this subscriber, closed when the call ends. */
  void subscribed(AutoCloseable handle) {
    subscription = handle;
    if (done) {
      unsubscribe();
    }
  }

  /** A committed state (under the model's lock): recorded, sent later. */
  @Override
  public void accept(ModelState state) {
    if (done) {
      throw new IllegalStateException("watcher ended"); // the store drops the listener
    }
    if (state == null) { // the model was deleted: the stream ends after what is pending
      deleted = true;
      schedule();
      return;
    }
    pending.set(state);
    behind.incrementAndGet();
    schedule();
  }

  /** Changes published since the subscriber last took a state. */
  long behind() {
    return behind.get();
  }

  private volatile boolean deleted;

  private void schedule() {
    if (!done && scheduled.compareAndSet(false, true)) {
      executor.execute(this::drain);
    }
  }

  private void drain() {
    scheduled.set(false);
    synchronized (this) {
      if (done) {
        return;
      }
      try {
        if (behind.get() > maxBehind) {
          done = true;
          call.onError(Status.RESOURCE_EXHAUSTED.withDescription("name: the watch on model '"
              + model + "' fell more than " + maxBehind + " changes behind (the client did not"
              + " read); watch again to get the current state (--max-watch-behind)")
              .asRuntimeException());
          unsubscribe();
          return;
        }
        if (!call.isReady() || call.isCancelled()) {
          return; // the ready handler schedules the next send
        }
        ModelState state = pending.getAndSet(null);
        if (state != null) {
          behind.set(0);
          call.onNext(ModelMessages.info(state));
        }
        if (deleted) {
          done = true;
          call.onError(Errors.toStatus(dev.lethe.core.LetheException.notFound(
              "model '" + model + "' was deleted")));
          unsubscribe();
        }
      } catch (RuntimeException e) {
        // The call ended under us (cancelled, closed): stop watching.
        done = true;
        unsubscribe();
        LOG.fine(() -> "watch on " + model + " ended: " + e);
      }
    }
  }

  private void unsubscribe() {
    AutoCloseable s = subscription;
    if (s != null) {
      try {
        s.close();
      } catch (Exception e) {
        // removing a listener cannot fail
      }
    }
  }
}
