package dev.lethe.grpc;

/** Message-size limits shared by client and server. */
final class ServerLimits {
  /** Largest message a client accepts (Gradients responses can be large). */
  static final int CLIENT_MAX_INBOUND = 256 << 20;

  private ServerLimits() {}
}
