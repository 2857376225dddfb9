package dev.lethe.grpc;

import dev.lethe.api.v1.ModelStoreGrpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Set;

/**
 * Bearer-token access control for the ModelStore service: mutating RPCs (PutModel, BuildFisher, PutFisherSums,
 * Erase, SetActiveVersion, SetScale, DeleteModel, UpdateSpec) need a write token, answering UNAUTHENTICATED without a valid token
 * and PERMISSION_DENIED with a read-only one; the sensitive reads (Gradients, ListErasures,
 * CheckErasure, CalibrateScale, whose {@code apply} also needs a write token) always need a read or write token; other reads only when configured so. Health and reflection stay open (Kubernetes probes, grpcurl list). Tokens are
 * compared in constant time. Stateless after construction; thread-safe.
 */
public final class TokenAuthInterceptor implements ServerInterceptor {
  /** The header a client sends its token in, as {@code Bearer <token>}. */
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final Set<String> MUTATING = Set.of(
      ModelStoreGrpc.getPutModelMethod().getFullMethodName(),
      ModelStoreGrpc.getBuildFisherMethod().getFullMethodName(),
      ModelStoreGrpc.getPutFisherSumsMethod().getFullMethodName(),
      ModelStoreGrpc.getEraseMethod().getFullMethodName(),
      ModelStoreGrpc.getSetActiveVersionMethod().getFullMethodName(),
      ModelStoreGrpc.getSetScaleMethod().getFullMethodName(),
      ModelStoreGrpc.getDeleteModelMethod().getFullMethodName(),
      ModelStoreGrpc.getUpdateSpecMethod().getFullMethodName());
  /**
   * Reads that reveal training data or who asked for erasure: per-sample gradients leak inputs,
   * the ledger and CheckErasure say which ids were erased. They need a read (or write) token
   * whenever tokens are configured, with or without {@code --read-token-required}.
   */
  private static final Set<String> SENSITIVE_READS = Set.of(
      ModelStoreGrpc.getGradientsMethod().getFullMethodName(),
      ModelStoreGrpc.getListErasuresMethod().getFullMethodName(),
      ModelStoreGrpc.getCheckErasureMethod().getFullMethodName(),
      ModelStoreGrpc.getCalibrateScaleMethod().getFullMethodName());
  /** Whether the call's token may write (calls that write only for some requests check it). */
  private static final io.grpc.Context.Key<Boolean> CAN_WRITE = io.grpc.Context.key("lethe-can-write");

  private final Set<String> writeTokens;
  private final Set<String> readTokens;
  private final boolean readsNeedToken;

  public TokenAuthInterceptor(Set<String> writeTokens, Set<String> readTokens, boolean readsNeedToken) {
    this.writeTokens = Set.copyOf(writeTokens);
    this.readTokens = Set.copyOf(readTokens);
    this.readsNeedToken = readsNeedToken;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
      ServerCallHandler<Q, R> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    if (!method.startsWith(ModelStoreGrpc.SERVICE_NAME + "/")) {
      return next.startCall(call, headers);
    }
    boolean mutating = MUTATING.contains(method);
    if (!mutating && !readsNeedToken && !SENSITIVE_READS.contains(method)) {
      // no token asked for; a call that would write (CalibrateScale's apply) still needs one
      return io.grpc.Contexts.interceptCall(io.grpc.Context.current().withValue(CAN_WRITE,
          writeTokens.isEmpty()), call, headers, next);
    }
    String token = bearer(headers.get(AUTHORIZATION));
    boolean write = token != null && matches(token, writeTokens);
    boolean read = write || (token != null && matches(token, readTokens));
    Status refusal = null;
    if (!read) {
      refusal = Status.UNAUTHENTICATED.withDescription(
          "authorization: a valid 'Bearer <token>' header is required for " + method);
    } else if (mutating && !write) {
      refusal = Status.PERMISSION_DENIED.withDescription(
          "authorization: this token is read-only; " + method + " needs a write token");
    }
    if (refusal != null) {
      call.close(refusal, new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return io.grpc.Contexts.interceptCall(io.grpc.Context.current().withValue(CAN_WRITE, write),
        call, headers, next);
  }

  /**
   * Whether the current call may write: true without tokens (no interceptor, or a method it
   * lets through: then no token was asked for), else whether its token is a write token.
   * CalibrateScale with {@code apply} writes the spec and asks this.
   */
  static boolean canWrite() {
    Boolean w = CAN_WRITE.get();
    return w == null || w;
  }

  private static String bearer(String header) {
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    return header.substring(7).strip();
  }

  private static boolean matches(String token, Set<String> tokens) {
    byte[] given = token.getBytes(StandardCharsets.UTF_8);
    boolean found = false;
    for (String t : tokens) {
      found |= MessageDigest.isEqual(given, t.getBytes(StandardCharsets.UTF_8));
    }
    return found;
  }
}
