package dev.lethe.grpc;

import dev.lethe.api.v1.EraseStep;
import dev.lethe.core.ErasureStep;
import dev.lethe.core.LetheException;

/**
 * A request's {@code step} field ⇄ {@link ErasureStep}: UNSPECIFIED is null (the default), an
 * unknown number is INVALID_ARGUMENT naming {@code step}. Shared by Erase and CalibrateScale.
 *
 * @param value the field as sent
 * @param number its wire number (for the message of an unknown one)
 */
record EraseStepField(EraseStep value, int number) {

  /** The domain step; null for unspecified. */
  ErasureStep domain() {
    if (value == EraseStep.UNRECOGNIZED) {
      throw LetheException.invalid("step",
          "must be LEAVE_OUT, FULL_FISHER or unspecified, got " + number);
    }
    return domain(value);
  }

  /** A response's step (never unknown from this server): null for unspecified. */
  static ErasureStep domain(EraseStep s) {
    return switch (s) {
      case LEAVE_OUT -> ErasureStep.LEAVE_OUT;
      case FULL_FISHER -> ErasureStep.FULL_FISHER;
      default -> null;
    };
  }

  static EraseStep message(ErasureStep s) {
    return s == null ? EraseStep.ERASE_STEP_UNSPECIFIED : switch (s) {
      case LEAVE_OUT -> EraseStep.LEAVE_OUT;
      case FULL_FISHER -> EraseStep.FULL_FISHER;
    };
  }
}
