package dev.lethe.cli;

import dev.lethe.store.ModelStore;
import java.util.function.Consumer;

/** Registers the digits demo model in an empty store. */
final class Demo {
  private Demo() {}

  static Consumer<ModelStore> initializer(boolean enabled) {
    return store -> {};
  }
}
