package dev.lethe.store;

import ai.onnxruntime.OrtEnvironment;
import dev.lethe.storage.LetheDb;
import dev.lethe.storage.records.ModelRecord;

/** The backend of a stored model's format (the record says which). Stateless. */
final class ModelBackends {
  private ModelBackends() {}

  /** A backend for a registered model; native sessions are created on first use. */
  static ModelBackend open(ModelRecord r, LetheDb db, OrtEnvironment env) {
    long[] offsets = ModelRuntime.offsets(Records.parameters(r));
    return switch (Records.format(r)) {
      case ONNX -> new OnnxBackend(r, db, env, offsets);
      case TORCHSCRIPT -> new TorchBackend(r, db);
    };
  }
}
