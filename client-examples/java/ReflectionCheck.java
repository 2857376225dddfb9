import com.google.protobuf.ByteString;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * What grpcurl does, through grpc.reflection.v1 only: list the services of a live sidecar, fetch
 * the file declaring each (with its dependencies) and resolve every method's request and
 * response types. Exits non-zero if anything is missing.
 *
 * <p>{@code java -cp target/lethe.jar client-examples/java/ReflectionCheck.java 127.0.0.1:50051}
 */
public final class ReflectionCheck {
  public static void main(String[] args) throws Exception {
    ManagedChannel channel = ManagedChannelBuilder.forTarget(args[0]).usePlaintext().build();
    try {
      ServerReflectionGrpc.ServerReflectionStub stub = ServerReflectionGrpc.newStub(channel);
      List<String> services = new ArrayList<>();
      ask(stub, ServerReflectionRequest.newBuilder().setListServices("*").build())
          .getListServicesResponse().getServiceList().forEach(s -> services.add(s.getName()));
      System.out.println("services: " + services);
      int methods = 0;
      for (String service : services) {
        Map<String, FileDescriptorProto> files = new HashMap<>();
        for (ByteString b : ask(stub, ServerReflectionRequest.newBuilder()
            .setFileContainingSymbol(service).build()).getFileDescriptorResponse()
            .getFileDescriptorProtoList()) {
          FileDescriptorProto f = FileDescriptorProto.parseFrom(b);
          files.put(f.getName(), f);
        }
        Descriptors.ServiceDescriptor sd = null;
        Map<String, Descriptors.FileDescriptor> built = new HashMap<>();
        for (String file : files.keySet()) {
          Descriptors.FileDescriptor fd = build(file, files, built);
          for (Descriptors.ServiceDescriptor s : fd.getServices()) {
            if (s.getFullName().equals(service)) {
              sd = s;
            }
          }
        }
        if (sd == null) {
          throw new IllegalStateException("reflection did not resolve " + service);
        }
        for (Descriptors.MethodDescriptor m : sd.getMethods()) {
          System.out.printf("  %s/%s(%s) returns (%s)%n", service, m.getName(),
              m.getInputType().getFullName(), m.getOutputType().getFullName());
          methods++;
        }
      }
      if (!services.contains("lethe.v1.ModelStore") || !services.contains("grpc.health.v1.Health")) {
        throw new IllegalStateException("missing services: " + services);
      }
      System.out.println("reflection: " + services.size() + " services, " + methods
          + " methods resolved: OK");
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  static ServerReflectionResponse ask(ServerReflectionGrpc.ServerReflectionStub stub,
      ServerReflectionRequest request) throws Exception {
    CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> call = stub.serverReflectionInfo(new StreamObserver<>() {
      @Override
      public void onNext(ServerReflectionResponse value) {
        answer.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        answer.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    });
    call.onNext(request);
    call.onCompleted();
    return answer.get(10, TimeUnit.SECONDS);
  }

  static Descriptors.FileDescriptor build(String name, Map<String, FileDescriptorProto> files,
      Map<String, Descriptors.FileDescriptor> built) throws Exception {
    if (built.containsKey(name)) {
      return built.get(name);
    }
    FileDescriptorProto proto = files.get(name);
    List<Descriptors.FileDescriptor> deps = new ArrayList<>();
    for (String dep : proto.getDependencyList()) {
      deps.add(build(dep, files, built));
    }
    Descriptors.FileDescriptor fd =
        Descriptors.FileDescriptor.buildFrom(proto, deps.toArray(new Descriptors.FileDescriptor[0]));
    built.put(name, fd);
    return fd;
  }
}
