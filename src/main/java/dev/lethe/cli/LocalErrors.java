package dev.lethe.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;

/**
 * How a command's local failure (bad input, a missing or unreadable file) is reported: one line
 * on stderr and exit code 2, as a refused call is. Anything else is a fault of Lethe itself:
 * one line naming the exception, exit code 1. Stateless.
 */
final class LocalErrors {
  private LocalErrors() {}

  static boolean isLocal(Throwable e) {
    return e instanceof IllegalArgumentException || e instanceof IOException
        || e instanceof UncheckedIOException;
  }

  static int exitCode(Throwable e) {
    return isLocal(e) ? 2 : 1;
  }

  static String message(Throwable e) {
    Throwable t = e instanceof UncheckedIOException u ? u.getCause() : e;
    if (t instanceof NoSuchFileException f) {
      return f.getFile() + ": no such file";
    }
    if (t instanceof AccessDeniedException f) {
      return f.getFile() + ": permission denied";
    }
    if (isLocal(t) && t.getMessage() != null) {
      return t.getMessage();
    }
    return t.toString();
  }
}
