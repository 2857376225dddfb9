package dev.lethe.grpc;

import dev.lethe.api.v1.CalibrateScaleRequest;
import dev.lethe.api.v1.CalibrateScaleResponse;
import dev.lethe.api.v1.CalibrationPoint;
import dev.lethe.core.LetheException;
import dev.lethe.erase.ScaleCalibration;

/**
 * CalibrateScale's messages between the API and the domain, both ways:
 * {@link CalibrateScaleRequest} ⇄ {@link ScaleCalibration.Request},
 * {@link CalibrateScaleResponse} ⇄ {@link ScaleCalibration.Result}. Stateless and thread-safe.
 */
public final class CalibrationMessages {
  private CalibrationMessages() {}

  static ScaleCalibration.Request request(CalibrateScaleRequest r) {
    if (!r.hasSamples()) {
      throw LetheException.invalid("samples", "required: the training samples to erase hypothetically");
    }
    if (!r.hasHoldout()) {
      throw LetheException.invalid("holdout", "required: samples never trained on, with labels");
    }
    EraseStepField step = new EraseStepField(r.getStep(), r.getStepValue());
    return new ScaleCalibration.Request(r.getName(), SampleMessages.samples(r.getSamples()),
        SampleMessages.samples("holdout", r.getHoldout()),
        r.hasRetained() ? SampleMessages.samples("retained", r.getRetained()) : null,
        step.domain(), r.getApply(), r.getMaxAccuracyDrop());
  }

  /** The client's side of {@link #request(CalibrateScaleRequest)}. */
  public static CalibrateScaleRequest message(ScaleCalibration.Request r) {
    CalibrateScaleRequest.Builder b = CalibrateScaleRequest.newBuilder()
        .setName(r.name())
        .setSamples(SampleMessages.batch(r.samples()))
        .setHoldout(SampleMessages.batch(r.holdout()))
        .setStep(EraseStepField.message(r.step()))
        .setApply(r.apply())
        .setMaxAccuracyDrop(r.maxAccuracyDrop());
    if (r.retained() != null) {
      b.setRetained(SampleMessages.batch(r.retained()));
    }
    return b.build();
  }

  /** The server's answer (and the CLI's JSON). */
  public static CalibrateScaleResponse response(ScaleCalibration.Result r) {
    CalibrateScaleResponse.Builder b = CalibrateScaleResponse.newBuilder()
        .setScale(r.scale())
        .setStep(EraseStepField.message(r.step()))
        .setStepNote(r.stepNote())
        .setApplied(r.applied())
        .setVersion(r.version())
        .setReason(r.reason())
        .addAllWarnings(r.warnings());
    for (ScaleCalibration.Point p : r.curve()) {
      b.addCurve(CalibrationPoint.newBuilder().setScale(p.scale())
          .setErasedMeanLoss(p.erasedMeanLoss()).setHoldoutMeanLoss(p.holdoutMeanLoss())
          .setMembershipAuc(p.membershipAuc())
          .setRetainedAccuracyChange(p.retainedAccuracyChange()));
    }
    return b.build();
  }

  /** The client's side of {@link #response(ScaleCalibration.Result)}. */
  public static ScaleCalibration.Result result(CalibrateScaleResponse r) {
    return new ScaleCalibration.Result(r.getScale(), r.getCurveList().stream()
        .map(p -> new ScaleCalibration.Point(p.getScale(), p.getErasedMeanLoss(),
            p.getHoldoutMeanLoss(), p.getMembershipAuc(), p.getRetainedAccuracyChange()))
        .toList(), new EraseStepField(r.getStep(), r.getStepValue()).domain(), r.getStepNote(),
        r.getApplied(), r.getVersion(), r.getReason(), r.getWarningsList());
  }
}
