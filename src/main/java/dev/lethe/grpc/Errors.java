package dev.lethe.grpc;

import dev.lethe.core.LetheException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The one place where failures become gRPC statuses: a {@link LetheException} maps to the code
 * of its kind with its message (a client error, logged without a stack trace), cut to
 * {@link #MAX_DESCRIPTION} characters so it always fits gRPC's metadata limit; anything else is
 * a server fault, INTERNAL with only an opaque incident id; an {@link OutOfMemoryError} is
 * RESOURCE_EXHAUSTED naming what ran out and the setting that raises it — the message and stack trace (which
 * may name files, RocksDB paths or native errors) go to the log under that id, never to the
 * client. Stateless; thread-safe.
 */
final class Errors {
  private static final Logger LOG = Logger.getLogger(Errors.class.getName());
  private static final SecureRandom RANDOM = new SecureRandom();

  /** Longest status description sent; gRPC's default metadata limit is 8 KiB. */
  static final int MAX_DESCRIPTION = 1024;

  private Errors() {}

  static StatusRuntimeException toStatus(Throwable t) {
    if (t instanceof StatusRuntimeException s) {
      return s;
    }
    if (t instanceof OutOfMemoryError oom) {
      // An allocation the JVM refused: the request is answered, the server keeps serving.
      LOG.warning(() -> "out of memory answering a request: " + oom.getMessage());
      t = dev.lethe.core.Memory.outOfMemory("the request did not fit", oom);
    }
    if (t instanceof LetheException e) {
      String message = cut(e.getMessage());
      LOG.fine(() -> "refused: " + e.kind() + " " + message);
      return Status.fromCode(Status.Code.valueOf(e.kind().name()))
          .withDescription(message)
          .asRuntimeException();
    }
    String incident = incidentId();
    LOG.log(Level.SEVERE, "internal error, incident " + incident, t);
    return Status.INTERNAL
        .withDescription("internal error (incident " + incident + "; details are in the server log)")
        .asRuntimeException();
  }

  /** 16 random hex digits, to find a failure's log entry from the client's report. */
  static String incidentId() {
    byte[] b = new byte[8];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  private static String cut(String message) {
    if (message == null || message.length() <= MAX_DESCRIPTION) {
      return message;
    }
    return message.substring(0, MAX_DESCRIPTION) + "…";
  }
}
