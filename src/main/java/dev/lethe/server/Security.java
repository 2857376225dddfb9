package dev.lethe.server;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Transport security and access tokens of a sidecar.
 *
 * @param tlsCert PEM certificate chain, or null for plaintext
 * @param tlsKey PEM private key (PKCS#8), with {@code tlsCert}
 * @param clientCa PEM CA that client certificates must chain to (mutual TLS), or null
 * @param writeTokens bearer tokens allowed to call every RPC (empty: no token checks)
 * @param readTokens bearer tokens allowed to call the read-only RPCs only
 * @param readsNeedToken whether read-only RPCs need a token too
 */
public record Security(
    Path tlsCert,
    Path tlsKey,
    Path clientCa,
    Set<String> writeTokens,
    Set<String> readTokens,
    boolean readsNeedToken) {

  public Security {
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new IllegalArgumentException("--tls-cert and --tls-key go together");
    }
    if (clientCa != null && tlsCert == null) {
      throw new IllegalArgumentException("--tls-client-ca needs --tls-cert and --tls-key");
    }
    writeTokens = Set.copyOf(writeTokens);
    readTokens = Set.copyOf(readTokens);
    if (readsNeedToken && writeTokens.isEmpty() && readTokens.isEmpty()) {
      throw new IllegalArgumentException("--read-token-required needs tokens (--token-file or LETHE_TOKEN)");
    }
  }

  public static Security none() {
    return new Security(null, null, null, Set.of(), Set.of(), false);
  }

  public boolean tls() {
    return tlsCert != null;
  }

  public boolean tokens() {
    return !writeTokens.isEmpty() || !readTokens.isEmpty();
  }

  /**
   * Reads a token file: one token per line, {@code write <token>} or {@code read <token>} (a
   * bare token is a write token); blank lines and lines starting with # are skipped.
   *
   * @throws IllegalArgumentException naming the file and line for anything else
   */
  public static Set<String>[] loadTokens(Path file) throws IOException {
    Set<String> write = new HashSet<>();
    Set<String> read = new HashSet<>();
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String[] parts = line.split("\\s+");
      if (parts.length == 1) {
        write.add(parts[0]);
      } else if (parts.length == 2 && parts[0].equals("write")) {
        write.add(parts[1]);
      } else if (parts.length == 2 && parts[0].equals("read")) {
        read.add(parts[1]);
      } else {
        throw new IllegalArgumentException(file + ":" + (i + 1)
            + ": expected 'write <token>', 'read <token>' or a bare token");
      }
    }
    @SuppressWarnings("unchecked")
    Set<String>[] both = new Set[] {write, read};
    return both;
  }
}
