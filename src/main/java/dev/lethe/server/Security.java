package dev.lethe.server;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
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
 * @param readsNeedToken whether every read-only RPC needs a token too (ListErasures,
 *     CheckErasure and Gradients need one whenever tokens are configured)
 * @param insecure the operator's explicit consent ({@code --insecure}) to bind beyond loopback
 *     without tokens or without TLS; see {@link #checkExposure}
 */
public record Security(
    Path tlsCert,
    Path tlsKey,
    Path clientCa,
    Set<String> writeTokens,
    Set<String> readTokens,
    boolean readsNeedToken,
    boolean insecure) {

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

  /** Without {@code --insecure}. */
  public Security(Path tlsCert, Path tlsKey, Path clientCa, Set<String> writeTokens,
      Set<String> readTokens, boolean readsNeedToken) {
    this(tlsCert, tlsKey, clientCa, writeTokens, readTokens, readsNeedToken, false);
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
   * Refuses a listen address beyond loopback unless both tokens and TLS are configured, or the
   * operator passed {@code --insecure}: without tokens anyone who can reach the port can erase
   * and replace models, and over plaintext the tokens themselves travel in the clear.
   *
   * @return a warning to log (non-null when {@code --insecure} let an exposed setting through)
   * @throws IllegalArgumentException naming what is missing and the flag that allows it
   */
  public String checkExposure(String host) {
    if (loopback(host) || (tokens() && tls())) {
      return null;
    }
    String missing = !tokens() && !tls() ? "neither tokens nor TLS"
        : !tokens() ? "TLS but no tokens (anyone can erase)"
        : "tokens over plaintext (they can be read off the network)";
    String problem = "listening on " + host + " beyond loopback with " + missing;
    if (!insecure) {
      throw new IllegalArgumentException(problem + ": configure --token-file and "
          + "--tls-cert/--tls-key, bind 127.0.0.1, or pass --insecure (LETHE_INSECURE=true) to "
          + "accept the risk");
    }
    return problem + " (--insecure)";
  }

  private static boolean loopback(String host) {
    try {
      for (InetAddress a : InetAddress.getAllByName(host)) {
        if (!a.isLoopbackAddress()) {
          return false;
        }
      }
      return true;
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("cannot resolve --listen host " + host + ": "
          + e.getMessage());
    }
  }

  /** The tokens of a token file, by kind. */
  public record Tokens(Set<String> write, Set<String> read) {
    public Tokens {
      write = Set.copyOf(write);
      read = Set.copyOf(read);
    }
  }

  /** The words a line may start with; a line that is only one of them lost its token. */
  private static final Set<String> KINDS = Set.of("write", "read");

  /**
   * Reads a token file, failing closed: one token per line, {@code write <token>} or
   * {@code read <token>} (a bare token is a write token); blank lines and lines starting with #
   * are skipped. A kind without its token ({@code read } from a template whose variable came
   * out empty), an unknown kind, more than two words, or a file with no token at all is an
   * error, so a broken file never silently turns into a write token or into "no auth".
   *
   * @throws IllegalArgumentException naming the file and line
   */
  public static Tokens loadTokens(Path file) throws IOException {
    return parseTokens(file.toString(), Files.readString(file, StandardCharsets.UTF_8));
  }

  /** {@link #loadTokens} on text; {@code source} names it in messages. */
  public static Tokens parseTokens(String source, String text) {
    Set<String> write = new HashSet<>();
    Set<String> read = new HashSet<>();
    List<String> lines = text.lines().toList();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String where = source + ":" + (i + 1) + ": ";
      String[] parts = line.split("\\s+");
      String token = parts[parts.length - 1];
      if (!token.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
        throw new IllegalArgumentException(where + "a token must be printable ASCII without "
            + "spaces (what an HTTP/2 header can carry)");
      }
      if (parts.length == 1 && KINDS.contains(parts[0])) {
        throw new IllegalArgumentException(where + "'" + parts[0] + "' has no token after it");
      } else if (parts.length == 1) {
        write.add(parts[0]);
      } else if (parts.length == 2 && parts[0].equals("write")) {
        write.add(parts[1]);
      } else if (parts.length == 2 && parts[0].equals("read")) {
        read.add(parts[1]);
      } else if (parts.length == 2) {
        throw new IllegalArgumentException(where + "unknown kind '" + dev.lethe.core.Messages.quote(parts[0])
            + "'; expected 'write <token>', 'read <token>' or a bare token");
      } else {
        throw new IllegalArgumentException(where
            + "expected 'write <token>', 'read <token>' or a bare token");
      }
    }
    if (write.isEmpty() && read.isEmpty()) {
      throw new IllegalArgumentException(source + ": no token in the file (only blank lines and "
          + "comments); remove --token-file to run without tokens");
    }
    return new Tokens(write, read);
  }
}
