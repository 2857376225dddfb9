package dev.lethe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.storage.LetheDb;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A second `lethe serve` on a data directory whose store is open elsewhere refuses with one
 * clear line and exit 2: no stack trace, no "SIGTERM, draining" when no signal came.
 */
class SecondWriterTest {
  @TempDir Path dir;

  @Test
  void theMessageNamesTheDirectoryAndTheRule() throws Exception {
    try (LetheDb first = LetheDb.open(dir)) {
      java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
      java.io.PrintStream saved = System.err;
      System.setErr(new java.io.PrintStream(err, true, "UTF-8"));
      int code;
      try {
        code = Main.commandLine().execute("serve", "--data-dir", dir.toString(), "--listen",
            "127.0.0.1:0", "--no-demo");
      } finally {
        System.setErr(saved);
      }
      String text = err.toString("UTF-8");
      assertEquals(2, code, text);
      assertTrue(text.contains("error: the store at " + dir + " is in use by another Lethe process"),
          text);
      assertTrue(text.contains("one writer per data directory"), text);
      assertFalse(text.contains("\tat "), "no stack trace: " + text);
      assertFalse(text.contains("SIGTERM"), text);
    }
  }
}
