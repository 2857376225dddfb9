package dev.lethe.experiment;

import dev.lethe.fisher.CurvatureKind;

/** How the Fisher of one evaluated configuration is built: kind, block size B, mini-batch m. */
record FisherSetting(CurvatureKind kind, int blockSize, int minibatch) {
  String label() {
    return kind + " B=" + blockSize + " m=" + minibatch;
  }

  /** A model-name-safe form. */
  String slug() {
    return kind.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-') + "-b" + blockSize
        + "-m" + minibatch;
  }
}
