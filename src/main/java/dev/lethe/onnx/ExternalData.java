package dev.lethe.onnx;

import ai.onnx.proto.OnnxMl;
import java.nio.file.Path;
import java.util.List;

/**
 * How a model's structure points ONNX Runtime at initializer bytes left in the model's file:
 * each cut initializer ({@link ModelScan}) becomes ONNX external data ({@code data_location =
 * EXTERNAL}, {@code location} = the file's name, {@code offset}, {@code length}), and the
 * model's {@code metadata_props} carry the file's folder under {@link #FOLDER_KEY}, which
 * {@link OrtSessions} hands to ONNX Runtime as the external-initializers folder (ORT refuses
 * absolute locations). Every model derived from the structure (the forward model, the probes,
 * the gradient graphs) keeps both, so ORT reads the weights from the file, natively, and the
 * Java heap never holds them.
 *
 * <p>Only Lethe creates such references: {@link ModelAudit} refuses external data in uploads
 * before they are attached. The file must exist while sessions are created from the model.
 *
 * <p>Stateless; thread-safe.
 */
public final class ExternalData {
  /** The metadata key of the folder that holds the file the model's external data is in. */
  public static final String FOLDER_KEY = "lethe.external_data_folder";
  /** ONNX Runtime's session option for the folder of external initializers of an in-memory model. */
  static final String ORT_FOLDER_CONFIG = "session.model_external_initializers_file_folder_path";

  private ExternalData() {}

  /** {@code model} (the structure of {@code layout}) with its cut initializers made external. */
  static OnnxMl.ModelProto attach(OnnxMl.ModelProto model, ModelScan.Layout layout) {
    List<ModelScan.Payload> found = layout.initializers();
    if (folder(model) != null) {
      // The key is Lethe's: an upload's own entry must not point ONNX Runtime elsewhere.
      OnnxMl.ModelProto.Builder b = model.toBuilder().clearMetadataProps();
      model.getMetadataPropsList().stream().filter(e -> !e.getKey().equals(FOLDER_KEY))
          .forEach(b::addMetadataProps);
      model = b.build();
    }
    if (found.stream().noneMatch(ModelScan.Payload::cut)) {
      return model;
    }
    OnnxMl.GraphProto.Builder g = model.getGraph().toBuilder();
    if (g.getInitializerCount() != found.size()) {
      throw FileWire.malformed();
    }
    String location = layout.file().getFileName().toString();
    for (int i = 0; i < found.size(); i++) {
      ModelScan.Payload p = found.get(i);
      if (p.cut()) {
        g.setInitializer(i, g.getInitializer(i).toBuilder()
            .setDataLocation(OnnxMl.TensorProto.DataLocation.EXTERNAL)
            .clearExternalData()
            .addExternalData(entry("location", location))
            .addExternalData(entry("offset", Long.toString(p.offset())))
            .addExternalData(entry("length", Long.toString(p.length()))));
      }
    }
    return model.toBuilder().setGraph(g)
        .addMetadataProps(entry(FOLDER_KEY, layout.file().toAbsolutePath().getParent().toString()))
        .build();
  }

  /** The folder of the model's external data, or null when it has none of Lethe's. */
  public static Path folder(OnnxMl.ModelProto model) {
    for (OnnxMl.StringStringEntryProto e : model.getMetadataPropsList()) {
      if (e.getKey().equals(FOLDER_KEY)) {
        return Path.of(e.getValue());
      }
    }
    return null;
  }

  /** Bytes of initializer payloads the model reads from its file (0 without external data). */
  public static long externalBytes(OnnxMl.ModelProto model) {
    if (folder(model) == null) {
      return 0;
    }
    long n = 0;
    for (OnnxMl.TensorProto t : model.getGraph().getInitializerList()) {
      if (t.getDataLocation() == OnnxMl.TensorProto.DataLocation.EXTERNAL) {
        for (OnnxMl.StringStringEntryProto e : t.getExternalDataList()) {
          if (e.getKey().equals("length")) {
            n += Long.parseLong(e.getValue());
          }
        }
      }
    }
    return n;
  }

  private static OnnxMl.StringStringEntryProto entry(String key, String value) {
    return OnnxMl.StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
  }
}
