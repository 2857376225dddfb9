package dev.lethe.core;

/**
 * A request Lethe refuses or cannot serve, with the kind of failure and a message that names the
 * offending field. The gRPC layer maps {@link Kind} to a status code in one place; domain code
 * never sees gRPC types.
 */
public final class LetheException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Failure kinds; each maps to the gRPC status code of the same name. */
  public enum Kind {
    INVALID_ARGUMENT,
    NOT_FOUND,
    ALREADY_EXISTS,
    FAILED_PRECONDITION,
    RESOURCE_EXHAUSTED,
    UNIMPLEMENTED,
    UNAUTHENTICATED,
    PERMISSION_DENIED,
    ABORTED,
    UNAVAILABLE
  }

  private final Kind kind;

  public LetheException(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public LetheException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }

  /** INVALID_ARGUMENT, message "field: problem". */
  public static LetheException invalid(String field, String problem) {
    return new LetheException(Kind.INVALID_ARGUMENT, field + ": " + problem);
  }

  public static LetheException notFound(String what) {
    return new LetheException(Kind.NOT_FOUND, what);
  }

  public static LetheException alreadyExists(String what) {
    return new LetheException(Kind.ALREADY_EXISTS, what);
  }

  public static LetheException precondition(String what) {
    return new LetheException(Kind.FAILED_PRECONDITION, what);
  }

  public static LetheException tooLarge(String field, String problem) {
    return new LetheException(Kind.RESOURCE_EXHAUSTED, field + ": " + problem);
  }
}
