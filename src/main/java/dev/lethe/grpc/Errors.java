package dev.lethe.grpc;

import dev.lethe.core.LetheException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The one place where failures become gRPC statuses: a {@link LetheException} maps to the code
 * of its kind with its message (a client error, logged without a stack trace); anything else is
 * a server fault, INTERNAL, logged with its stack trace.
 */
final class Errors {
  private static final Logger LOG = Logger.getLogger(Errors.class.getName());

  private Errors() {}

  static StatusRuntimeException toStatus(Throwable t) {
    if (t instanceof StatusRuntimeException s) {
      return s;
    }
    if (t instanceof LetheException e) {
      LOG.fine(() -> "refused: " + e.kind() + " " + e.getMessage());
      return Status.fromCode(Status.Code.valueOf(e.kind().name()))
          .withDescription(e.getMessage())
          .asRuntimeException();
    }
    LOG.log(Level.SEVERE, "internal error", t);
    return Status.INTERNAL
        .withDescription("internal error: " + t.getMessage())
        .withCause(t)
        .asRuntimeException();
  }
}
