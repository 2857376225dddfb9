package dev.lethe.spark;

import dev.lethe.client.ClientSecurity;
import dev.lethe.client.LetheClient;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Path;

/**
 * How the driver and every executor reach the sidecar: its address, the write token, and TLS
 * files (which must exist at the same paths on every executor). Immutable; serialised into the
 * job's closures.
 *
 * @param target host:port
 * @param token bearer token (the sidecar's write token), or null
 * @param tlsCa PEM CA to trust, or null for plaintext
 * @param authority TLS server name to verify instead of the target's host, or null
 */
public record Sidecar(String target, String token, String tlsCa, String authority)
    implements Serializable {

  /** A client of the sidecar; the caller closes it. */
  public LetheClient connect() throws IOException {
    return LetheClient.connect(target, new ClientSecurity(token, tlsCa == null ? null : Path.of(tlsCa),
        null, null, authority));
  }
}
