package dev.lethe.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.lethe.core.LetheException;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Hostile bytes: seeded random corruptions of real archives (flipped bytes anywhere, in the
 * pickle, in the zip structures; truncations) are either read or refused with INVALID_ARGUMENT,
 * never another exception; an archive that is read still composes.
 */
class TorchArchiveMutationTest {
  static final int CASES = 3000;

  @Test
  void corruptArchivesAreReadOrRefusedCleanly() throws Exception {
    Random r = new Random(Long.getLong("seed", 20261201));
    List<String> files = List.of("mlp.pt", "cnn_bn.pt", "tied.pt", "nested.pt", "gru.pt");
    int refused = 0;
    for (int c = 0; c < CASES; c++) {
      byte[] b = TorchScriptFixtures.bytes(files.get(c % files.size())).clone();
      int kind = r.nextInt(4);
      if (kind == 0) {
        b = java.util.Arrays.copyOf(b, r.nextInt(b.length));
      } else {
        int flips = 1 + r.nextInt(8);
        // kind 1: anywhere; 2: the first quarter (storages, data.pkl); 3: the last 2 KiB (central directory)
        for (int f = 0; f < flips; f++) {
          int at = kind == 1 ? r.nextInt(b.length) : kind == 2 ? r.nextInt(b.length / 4)
              : b.length - 1 - r.nextInt(Math.min(2048, b.length));
          b[at] = (byte) r.nextInt(256);
        }
      }
      try {
        TorchArchive a = TorchArchive.read(b);
        List<String> names = a.parameters().stream().map(TorchTensor::name)
            .filter(n -> a.tensor(n).orElseThrow().dtype() == TorchDtype.FLOAT32).toList();
        TorchArchiveTest.written(a.compose(names, java.nio.ByteBuffer.wrap(a.weights(names))));
      } catch (LetheException e) {
        assertEquals(LetheException.Kind.INVALID_ARGUMENT, e.kind(), e.getMessage());
        refused++;
      } catch (RuntimeException | OutOfMemoryError e) {
        fail("case " + c + " (kind " + kind + "): " + e, e);
      }
    }
    System.out.println(refused + " of " + CASES + " corrupt archives refused");
  }
}
