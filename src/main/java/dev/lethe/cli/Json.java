package dev.lethe.cli;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import dev.lethe.api.v1.ListModelsResponse;
import dev.lethe.core.EraseOutcome;
import dev.lethe.grpc.EraseMessages;
import dev.lethe.grpc.ModelMessages;
import dev.lethe.store.EraseLedger;
import dev.lethe.store.ModelState;
import java.util.List;

/**
 * What the client commands print: a typed result as the JSON of its API message with the proto
 * field names ({@code active_version}) and numbers as grpcurl writes them ({@code 0.0001}, not
 * {@code 1.0E-4}; {@link GoNumbers}), so scripts can switch between the two. Stateless.
 */
final class Json {
  private Json() {}

  /** A ListModelsResponse. */
  static String models(List<ModelState> models) {
    ListModelsResponse.Builder b = ListModelsResponse.newBuilder();
    models.forEach(m -> b.addModels(ModelMessages.info(m)));
    return print(b);
  }

  /** A ModelInfo. */
  static String model(ModelState model) {
    return print(ModelMessages.info(model));
  }

  /** An EraseResponse. */
  static String erase(EraseOutcome outcome) {
    return print(EraseMessages.response(outcome));
  }

  /** A CalibrateScaleResponse. */
  static String calibration(dev.lethe.erase.ScaleCalibration.Result result) {
    return print(dev.lethe.grpc.CalibrationMessages.response(result));
  }

  /** A ListErasuresResponse. */
  static String erasures(EraseLedger.Page page) {
    return print(EraseMessages.erasures(page));
  }

  /** A DeleteModelResponse. */
  static String deleted(dev.lethe.store.ModelDeletion.Deleted d) {
    return print(dev.lethe.api.v1.DeleteModelResponse.newBuilder().setName(d.name())
        .setVersionsDeleted(d.versions()).setFishersDeleted(d.fishers())
        .setLedgerEntriesKept(d.ledgerEntriesKept()));
  }

  private static String print(MessageOrBuilder message) {
    try {
      return GoNumbers.reformat(JsonFormat.printer().preservingProtoFieldNames().print(message));
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("API message not printable as JSON", e);
    }
  }
}
