package dev.lethe.cli;

import dev.lethe.client.ClientSecurity;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options shared by commands that talk to a running sidecar. */
final class ClientOptions {
  @Option(
      names = "--target",
      defaultValue = "${env:LETHE_TARGET:-127.0.0.1:50051}",
      description = "Server address host:port (env LETHE_TARGET; default ${DEFAULT-VALUE}).")
  String target;

  @Option(names = "--token", defaultValue = "${env:LETHE_TOKEN}",
      description = "Bearer token sent with every call (env LETHE_TOKEN).")
  String token;

  @Option(names = "--tls-ca", defaultValue = "${env:LETHE_TLS_CA}",
      description = "PEM CA to trust: connect with TLS (env LETHE_TLS_CA).")
  Path tlsCa;

  @Option(names = "--tls-cert", defaultValue = "${env:LETHE_CLIENT_TLS_CERT}",
      description = "PEM client certificate for mutual TLS (env LETHE_CLIENT_TLS_CERT).")
  Path tlsCert;

  @Option(names = "--tls-key", defaultValue = "${env:LETHE_CLIENT_TLS_KEY}",
      description = "PEM client key, PKCS#8 (env LETHE_CLIENT_TLS_KEY).")
  Path tlsKey;

  @Option(names = "--tls-authority", defaultValue = "${env:LETHE_TLS_AUTHORITY}",
      description = "Server name to verify in its certificate instead of the target host (env LETHE_TLS_AUTHORITY).")
  String tlsAuthority;

  ClientSecurity security() {
    return new ClientSecurity(token, tlsCa, tlsCert, tlsKey, tlsAuthority);
  }
}
