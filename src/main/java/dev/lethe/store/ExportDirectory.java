package dev.lethe.store;

import dev.lethe.storage.StorageException;
import dev.lethe.storage.records.ModelRecord;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Writes model versions in Triton's model-repository layout: {@code <dir>/<model>/<version>/model.onnx}
 * (or {@code model.pt} for a TorchScript model, see {@link ExportLayout}), each written to a
 * temporary name, fsync'd, then renamed, so a polling model server never sees half a file. Also writes {@code <dir>/<model>/config.pbtxt} (atomically) naming the active
 * version in a {@code specific} version policy, so Triton serves the active version even after a
 * rollback to an older one. Version directories no longer kept are removed.
 *
 * <p>Not thread-safe per model: the store calls it under the model's lock.
 */
final class ExportDirectory {
  private static final java.util.logging.Logger LOG =
      java.util.logging.Logger.getLogger(ExportDirectory.class.getName());
  private final Path root;

  ExportDirectory(Path root) {
    this.root = root;
  }

  /**
   * Writes the record's active version (composed by {@code runtime}) and prunes versions it no
   * longer keeps. Called after a commit: a failure is logged, not thrown, and the next change
   * (or the next start) retries.
   */
  void publishActive(ModelRecord r, ModelRuntime runtime) {
    publishActive(r, runtime, ExportLayout.onnx());
  }

  /** {@link #publishActive(ModelRecord, ModelRuntime)} in the layout of the model's format. */
  void publishActive(ModelRecord r, ModelRuntime runtime, ExportLayout layout) {
    try {
      Set<Long> kept = new java.util.TreeSet<>();
      r.getVersionsList().forEach(v -> kept.add(v.getVersion()));
      publish(r.getName(), r.getActiveVersion(), runtime.open(r.getActiveVersion()), kept, layout);
    } catch (RuntimeException ex) {
      LOG.log(java.util.logging.Level.SEVERE,
          "export of model " + r.getName() + " failed; retried at its next change", ex);
    }
  }

  /**
   * Makes {@code active} present and current for {@code model} and prunes the versions that are
   * not in {@code kept}. {@code content} is the active version's file; it is consumed and closed.
   */
  void publish(String model, long active, InputStream content, Set<Long> kept) {
    publish(model, active, content, kept, ExportLayout.onnx());
  }

  /**
   * {@link #publish(String, long, InputStream, Set)} in {@code layout}: the version's file name
   * and the config's platform and tensors are the layout's.
   */
  void publish(String model, long active, InputStream content, Set<Long> kept, ExportLayout layout) {
    try (InputStream in = content) {
      Path modelDir = root.resolve(model);
      Path versionDir = modelDir.resolve(Long.toString(active));
      Path file = versionDir.resolve(layout.fileName());
      if (!Files.exists(file)) {
        Files.createDirectories(versionDir);
        Path tmp = versionDir.resolve("." + layout.fileName() + ".tmp");
        try (OutputStream out = Files.newOutputStream(tmp)) {
          in.transferTo(out);
        }
        fsync(tmp);
        move(tmp, file);
        fsync(versionDir);
      }
      writeAtomically(modelDir.resolve("config.pbtxt"), layout.config(model, active));
      fsync(modelDir);
      prune(modelDir, kept);
    } catch (IOException e) {
      throw new StorageException("export of model " + model + " version " + active + " to "
          + root + " failed: " + e.getMessage(), e);
    }
  }

  /** The ONNX layout's config.pbtxt ({@link ExportLayout#config}). */
  static String config(String model, long active) {
    return ExportLayout.onnx().config(model, active);
  }

  private static void writeAtomically(Path target, String text) throws IOException {
    Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp");
    Files.writeString(tmp, text, StandardCharsets.UTF_8);
    fsync(tmp);
    move(tmp, target);
  }

  private static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** Removes a deleted model's directory (its versions and config.pbtxt); logged on failure. */
  void remove(String model) {
    Path modelDir = root.resolve(model);
    if (!Files.exists(modelDir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(modelDir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    } catch (IOException | RuntimeException e) {
      LOG.log(java.util.logging.Level.SEVERE, "removing the export of deleted model " + model
          + " from " + root + " failed", e);
    }
  }

  private static void prune(Path modelDir, Set<Long> kept) throws IOException {
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(modelDir, Files::isDirectory)) {
      for (Path d : dirs) {
        String name = d.getFileName().toString();
        if (name.matches("\\d+") && !kept.contains(Long.parseLong(name))) {
          try (Stream<Path> walk = Files.walk(d)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
              Files.delete(p);
            }
          }
        }
      }
    }
  }

  private static void fsync(Path path) throws IOException {
    boolean dir = Files.isDirectory(path);
    try (FileChannel ch = FileChannel.open(path, dir ? StandardOpenOption.READ : StandardOpenOption.WRITE)) {
      ch.force(true);
    } catch (IOException e) {
      if (!dir) {
        throw e;
      }
      // Some file systems do not allow opening a directory to sync it; the rename still holds.
    }
  }
}
