package dev.lethe.client;

/** A call to a Lethe server failed; {@link #code()} is the gRPC status code's name. Immutable. */
public final class RemoteException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final String code;

  RemoteException(String code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  public String code() {
    return code;
  }

  @Override
  public String toString() {
    return code + ": " + getMessage();
  }
}
