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

  SampleSpill(Path dir) throws IOException {
    file = Files.createTempFile(dir, "lethe-fisher-samples", ".spill");
    out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(file), 1 << 16));
  }

  void append(Samples batch) {
    try {
      out.writeInt(batch.inputs().size());
      for (Map.Entry<String, DenseTensor> e : batch.inputs().entrySet()) {
        out.writeUTF(e.getKey());
        write(e.getValue());
      }
      out.writeBoolean(batch.labels() != null);
      if (batch.labels() != null) {
        write(batch.labels());
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
            map.put(name, read(in));
          }
          DenseTensor labels = in.readBoolean() ? read(in) : null;
          visitor.accept(new Samples(List.of(), map, labels));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("replaying samples from " + file, e);
    }
  }

  private void write(DenseTensor t) throws IOException {
    out.writeInt(t.dims().length);
    for (long d : t.dims()) {
      out.writeLong(d);
    }
    out.writeBoolean(t.isFloat());
    out.writeInt(t.length());
    if (t.isFloat()) {
      for (float f : t.floats()) {
        out.writeFloat(f);
      }
    } else {
      for (long l : t.longs()) {
        out.writeLong(l);
      }
    }
  }

  private static DenseTensor read(DataInputStream in) throws IOException {
    long[] dims = new long[in.readInt()];
    for (int i = 0; i < dims.length; i++) {
      dims[i] = in.readLong();
    }
    boolean isFloat = in.readBoolean();
    int length = in.readInt();
    if (isFloat) {
      float[] v = new float[length];
      for (int i = 0; i < length; i++) {
        v[i] = in.readFloat();
      }
      return DenseTensor.ofFloats(dims, v);
    }
    long[] v = new long[length];
    for (int i = 0; i < length; i++) {
      v[i] = in.readLong();
    }
    return DenseTensor.ofLongs(dims, v);
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
