package dev.lethe.torch;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Child-process main of {@link BigArchiveTest}: {@code <in.pt> <out.pt>} reads the archive from
 * its file, composes it with {@code small} + 1 and streams the result to {@code out.pt}, in a
 * heap far smaller than the archive.
 */
public final class BigArchiveCompose {
  private BigArchiveCompose() {}

  public static void main(String[] args) throws Exception {
    TorchArchive a = TorchArchive.read(Path.of(args[0]));
    float[] small = a.floats("small");
    for (int i = 0; i < small.length; i++) {
      small[i] += 1;
    }
    try (OutputStream out = Files.newOutputStream(Path.of(args[1]))) {
      a.compose(List.of("small"), small).writeTo(out);
    }
    System.out.println("composed " + a.size() + " bytes with a heap of at most " + Runtime.getRuntime().maxMemory());
  }
}
