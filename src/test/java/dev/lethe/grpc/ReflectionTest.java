package dev.lethe.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Resolves the API the way grpcurl does, through grpc.reflection.v1 only: list the services,
 * fetch the file that declares each, its dependencies, and build every method's descriptors.
 */
class ReflectionTest {
  @TempDir Path dir;

  private static ServerReflectionResponse ask(ServerReflectionGrpc.ServerReflectionStub stub,
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

  @Test
  void everyMethodResolvesThroughReflection() throws Exception {
    try (ServerHarness lethe = new ServerHarness(dir, 1 << 20)) {
      ServerReflectionGrpc.ServerReflectionStub stub = ServerReflectionGrpc.newStub(lethe.channel);
      Set<String> services = new TreeSet<>();
      ask(stub, ServerReflectionRequest.newBuilder().setListServices("*").build())
          .getListServicesResponse().getServiceList().forEach(s -> services.add(s.getName()));
      assertTrue(services.containsAll(Set.of("lethe.v1.ModelStore", "grpc.health.v1.Health",
          "grpc.reflection.v1.ServerReflection")), services.toString());

      Map<String, FileDescriptorProto> files = new HashMap<>();
      for (ByteString b : ask(stub, ServerReflectionRequest.newBuilder()
          .setFileContainingSymbol("lethe.v1.ModelStore").build())
          .getFileDescriptorResponse().getFileDescriptorProtoList()) {
        FileDescriptorProto f = FileDescriptorProto.parseFrom(b);
        files.put(f.getName(), f);
      }
      Descriptors.FileDescriptor api = build("lethe/v1/model_store.proto", files, new HashMap<>());
      Descriptors.ServiceDescriptor service = api.findServiceByName("ModelStore");
      List<String> methods = new ArrayList<>();
      for (Descriptors.MethodDescriptor m : service.getMethods()) {
        methods.add(m.getName() + "(" + m.getInputType().getFullName() + ")");
      }
      assertEquals(List.of(
          "PutModel(lethe.v1.PutModelRequest)", "ListModels(lethe.v1.ListModelsRequest)",
          "GetModel(lethe.v1.GetModelRequest)", "WatchModel(lethe.v1.WatchModelRequest)",
          "SetActiveVersion(lethe.v1.SetActiveVersionRequest)", "SetScale(lethe.v1.SetScaleRequest)", "CalibrateScale(lethe.v1.CalibrateScaleRequest)",
          "Evaluate(lethe.v1.EvaluateRequest)",
          "Gradients(lethe.v1.GradientsRequest)", "BuildFisher(lethe.v1.BuildFisherRequest)",
          "Erase(lethe.v1.EraseRequest)", "ListErasures(lethe.v1.ListErasuresRequest)",
          "CheckErasure(lethe.v1.CheckErasureRequest)", "DeleteModel(lethe.v1.DeleteModelRequest)",
          "UpdateSpec(lethe.v1.UpdateSpecRequest)",
          "PutFisherSums(lethe.v1.PutFisherSumsRequest)"), methods);
      assertEquals("samples",
          api.findMessageTypeByName("EvaluateRequest").findFieldByNumber(3).getName());
    }
  }

  private static Descriptors.FileDescriptor build(String name, Map<String, FileDescriptorProto> files,
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
