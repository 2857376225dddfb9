package dev.lethe.grpc;

/** The client's inbound message limit (the server's is --max-message-bytes, ServerConfig). */
final class ServerLimits {
  /** Largest message a client accepts (Gradients responses can be large). */
  static final int CLIENT_MAX_INBOUND = 256 << 20;

  private ServerLimits() {}
}
