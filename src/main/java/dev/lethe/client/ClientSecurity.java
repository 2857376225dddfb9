package dev.lethe.client;

import java.nio.file.Path;

/**
 * How a client reaches a secured sidecar (immutable; {@link LetheClient#connect} reads it).
 *
 * @param token bearer token sent with every call, or null
 * @param tlsCa PEM CA to trust; null for plaintext
 * @param tlsCert PEM client certificate for mutual TLS, or null
 * @param tlsKey PEM client key (PKCS#8), with {@code tlsCert}
 * @param authority TLS server name to verify instead of the target's host, or null
 */
public record ClientSecurity(String token, Path tlsCa, Path tlsCert, Path tlsKey, String authority) {
  public static ClientSecurity none() {
    return new ClientSecurity(null, null, null, null, null);
  }
}
