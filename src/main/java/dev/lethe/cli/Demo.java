package dev.lethe.cli;

import dev.lethe.demo.DemoModel;
import dev.lethe.demo.DigitsDemo;
import dev.lethe.store.ModelStore;
import java.util.function.Consumer;
import java.util.logging.Logger;

/** Registers the digits demo model when the store is empty, so a fresh sidecar is useful at once. */
final class Demo {
  private static final Logger LOG = Logger.getLogger(Demo.class.getName());

  private Demo() {}

  static Consumer<ModelStore> initializer(boolean enabled) {
    return store -> {
      if (!enabled || !store.list().isEmpty()) {
        return;
      }
      DemoModel demo = DigitsDemo.train();
      store.put(demo.spec(), demo.onnx());
      LOG.info(String.format("registered demo model '%s': %d training samples, training accuracy "
              + "%.4f, trained in %d ms (%d Newton steps, gradient norm %.1e)",
          demo.spec().name(), demo.spec().trainSize(), demo.trainingAccuracy(),
          demo.trainingTime().toMillis(), demo.iterations(), demo.gradientNorm()));
    };
  }
}
