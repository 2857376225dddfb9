package dev.lethe.testing;

import dev.lethe.cli.Main;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Starts {@code lethe} in a child JVM, as crash tests need (a process they can kill -9): the
 * test's class path in an @argfile (ONNX Runtime 1.29 crashes, SIGSEGV, when the process command
 * line is longer than about 4 KiB), no standard input, output to {@code log}, and no LETHE_*
 * variables inherited from the environment, so only the arguments configure it.
 */
public final class ChildJvm {
  private ChildJvm() {}

  /** A fast-starting JVM: serial GC, C1 only. */
  public static final List<String> QUICK = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");

  /** The process builder of {@code lethe args…} with {@code jvmFlags}; the argfile goes in dir. */
  public static ProcessBuilder lethe(Path dir, Path log, List<String> jvmFlags, String... args)
      throws IOException {
    Path argfile = dir.resolve("classpath.args");
    if (!Files.exists(argfile)) {
      Files.writeString(argfile, "-cp \"" + System.getProperty("java.class.path") + "\"\n");
    }
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmFlags);
    command.add("@" + argfile);
    command.add(Main.class.getName());
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command)
        .redirectErrorStream(true).redirectOutput(log.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    pb.environment().keySet().removeIf(k -> k.startsWith("LETHE_"));
    return pb;
  }
}
