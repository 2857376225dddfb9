package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.lethe.api.v1.CheckErasureRequest;
import dev.lethe.api.v1.EraseRequest;
import dev.lethe.api.v1.EvaluateRequest;
import dev.lethe.api.v1.ModelSpec;
import dev.lethe.server.Security;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.util.Set;

/**
 * The fuzzed entry points (issue #14 item 8) and their invariants, shared by the Jazzer fuzz
 * tests and the bounded mutation run of the normal suite: whatever the bytes, the server answers
 * with a client-error status (never INTERNAL or UNKNOWN, which would mean an unchecked input
 * reached the domain), with a description that fits gRPC's metadata limit; the token-file parser
 * either refuses or returns only well-formed tokens.
 */
final class FuzzTargets {
  private FuzzTargets() {}

  /** What a malformed request may answer. */
  static final Set<Status.Code> CLIENT_ERRORS = Set.of(Status.Code.OK,
      Status.Code.INVALID_ARGUMENT, Status.Code.NOT_FOUND, Status.Code.ALREADY_EXISTS,
      Status.Code.FAILED_PRECONDITION, Status.Code.RESOURCE_EXHAUSTED);

  static void tokens(byte[] data) {
    String text = new String(data, StandardCharsets.UTF_8);
    Security.Tokens t;
    try {
      t = Security.parseTokens("fuzz", text);
    } catch (IllegalArgumentException refused) {
      assertTrue(refused.getMessage().startsWith("fuzz"), refused.getMessage());
      return;
    }
    assertFalse(t.write().isEmpty() && t.read().isEmpty(), "a parse without tokens must refuse");
    for (String token : Set.copyOf(t.write())) {
      wellFormed(token);
    }
    for (String token : Set.copyOf(t.read())) {
      wellFormed(token);
    }
  }

  private static void wellFormed(String token) {
    assertFalse(token.isEmpty() || token.codePoints().anyMatch(Character::isWhitespace)
        || token.equals("read") || token.equals("write") || token.startsWith("#"), "token '" + token + "'");
  }

  /** An Erase, Evaluate or CheckErasure request decoded from {@code data}, through the server. */
  static void request(ServerHarness h, byte[] data) {
    if (data.length == 0) {
      return;
    }
    byte[] body = java.util.Arrays.copyOfRange(data, 1, data.length);
    // Bytes that are no message are skipped in answer(): gRPC refuses them before the service.
    switch (Math.floorMod(data[0], 3)) {
      case 0 -> answer(() -> h.blocking.erase(EraseRequest.parseFrom(body)));
      case 1 -> answer(() -> h.blocking.evaluate(EvaluateRequest.parseFrom(body)));
      default -> answer(() -> h.blocking.checkErasure(CheckErasureRequest.parseFrom(body)));
    }
  }

  /** A PutModel of {@code onnx} under a fresh name, through the server. */
  static void upload(ServerHarness h, ModelSpec spec, byte[] onnx) {
    answer(() -> h.put(spec, onnx));
  }

  interface Call {
    Object run() throws InvalidProtocolBufferException;
  }

  private static void answer(Call call) {
    Object ok;
    try {
      ok = call.run();
    } catch (StatusRuntimeException e) {
      assertTrue(CLIENT_ERRORS.contains(e.getStatus().getCode()), e.getStatus().toString());
      String d = e.getStatus().getDescription();
      assertTrue(d == null || d.length() <= Errors.MAX_DESCRIPTION + 1, "description of " + d.length());
      return;
    } catch (InvalidProtocolBufferException e) {
      return;
    }
    assertTrue(ok != null);
  }
}
