package dev.lethe.fisher;

import dev.lethe.core.Samples;
import dev.lethe.core.DenseTensor;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A temporary file of training batches, written once and replayed once per pass of a multi-pass
 * Fisher build (samples are far smaller than their gradients). Deleted by {@link #close()}.
 * Not thread-safe.
 */
final class SampleSpill implements AutoCloseable {
  private final Path file;
  private DataOutputStream out;

  /** File names of spills: {@link #sweep} deletes only these. */
  private static final String PREFIX = "lethe-fisher-samples";

  /**
   * Deletes every spill file in {@code dir} (left by a build killed before its cleanup ran; they
   * hold raw training samples). Only at start, before any build; returns how many it deleted.
   */
  static int sweep(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    int deleted = 0;
    try (var files = Files.newDirectoryStream(dir, PREFIX + "*.spill")) {
      for (Path f : files) {
        if (Files.deleteIfExists(f)) {
          deleted++;
        }
      }
    }
    return deleted;
  }

  SampleSpill(Path dir) throws IOException {
    // Owner-only: the spill holds raw training samples.
    file = Files.createTempFile(dir, PREFIX, ".spill",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(file), 1 << 16));
  }

  void append(Samples batch) {
    try {
      out.writeInt(batch.inputs().size());
      for (Map.Entry<String, DenseTensor> e : batch.inputs().entrySet()) {
        out.writeUTF(e.getKey());
        e.getValue().writeTo(out);
      }
      out.writeBoolean(batch.labels() != null);
      if (batch.labels() != null) {
        batch.labels().writeTo(out);
      }
      // ids key MONTE_CARLO draws: a replayed pass must draw what the first drew
      out.writeInt(batch.ids().size());
      for (String id : batch.ids()) {
        out.writeUTF(id);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("spilling samples to " + file, e);
    }
  }

  /** Calls {@code visitor} with every batch, in order. */
  void replay(Consumer<Samples> visitor) {
    try {
      if (out != null) {
        out.close();
        out = null;
      }
      try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
        while (true) {
          int inputs;
          try {
            inputs = in.readInt();
          } catch (EOFException end) {
            return;
          }
          Map<String, DenseTensor> map = new LinkedHashMap<>();
          for (int i = 0; i < inputs; i++) {
            String name = in.readUTF();
            map.put(name, DenseTensor.readFrom(in));
          }
          DenseTensor labels = in.readBoolean() ? DenseTensor.readFrom(in) : null;
          int count = in.readInt();
          List<String> ids = new java.util.ArrayList<>(count);
          for (int i = 0; i < count; i++) {
            ids.add(in.readUTF());
          }
          visitor.accept(new Samples(ids, map, labels));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("replaying samples from " + file, e);
    }
  }

  @Override
  public void close() {
    try {
      if (out != null) {
        out.close();
      }
      Files.deleteIfExists(file);
    } catch (IOException e) {
      throw new UncheckedIOException("deleting " + file, e);
    }
  }

}
